-- Model prices in USD per million tokens. The rows live in clickhouse/model_prices.csv (versioned with the code) and
-- are loaded by the migration runner after every migration run; the latest load of a model wins.
-- A Join table rather than a dictionary: joinGet reads it in memory with no credentials or source connection, in
-- chDB and on a server alike. Span costs are computed when spans are inserted (see otel_traces.cost), so a price
-- change applies to spans written after it, never rewriting history.
CREATE TABLE IF NOT EXISTS model_prices
(
    model String,
    input_per_million Float64,
    output_per_million Float64,
    cache_read_per_million Float64
)
ENGINE = Join(ANY, LEFT, model)
SETTINGS join_any_take_last_row = 1;
