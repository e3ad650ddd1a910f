-- Span-level usage per (project, hour, model), kept at insert time: 30-day metrics read ~720 hours x models instead of
-- every span of the project (bench/traces.py). The metrics query adds the partial hours at either end of a range
-- from otel_traces itself, so figures stay exact to the nanosecond.
CREATE TABLE IF NOT EXISTS otel_usage_hourly
(
    project_id LowCardinality(String),
    hour DateTime('UTC'),
    model LowCardinality(String),
    spans SimpleAggregateFunction(sum, UInt64),
    errors SimpleAggregateFunction(sum, UInt64),
    prompt SimpleAggregateFunction(sum, UInt64),
    completion SimpleAggregateFunction(sum, UInt64),
    cache_read SimpleAggregateFunction(sum, UInt64),
    reasoning SimpleAggregateFunction(sum, UInt64),
    tokens SimpleAggregateFunction(sum, UInt64),
    cost_usd SimpleAggregateFunction(sum, Decimal128(10))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (project_id, hour, model);

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_usage_hourly_mv TO otel_usage_hourly AS
SELECT
    project_id,
    toStartOfHour(Timestamp) AS hour,
    model,
    toUInt64(count()) AS spans,
    toUInt64(sum(is_error)) AS errors,
    sum(prompt_tokens) AS prompt,
    sum(completion_tokens) AS completion,
    sum(cache_read_tokens) AS cache_read,
    sum(reasoning_tokens) AS reasoning,
    sum(total_tokens) AS tokens,
    toDecimal128(sum(cost), 10) AS cost_usd
FROM otel_traces
GROUP BY project_id, hour, model;

-- Spans written before this file was applied (the view only sees new inserts). Apply it while exporters are paused:
-- a batch inserted between the view's creation and this statement would be counted twice.
INSERT INTO otel_usage_hourly
SELECT
    project_id,
    toStartOfHour(Timestamp) AS hour,
    model,
    toUInt64(count()) AS spans,
    toUInt64(sum(is_error)) AS errors,
    sum(prompt_tokens) AS prompt,
    sum(completion_tokens) AS completion,
    sum(cache_read_tokens) AS cache_read,
    sum(reasoning_tokens) AS reasoning,
    sum(total_tokens) AS tokens,
    toDecimal128(sum(cost), 10) AS cost_usd
FROM otel_traces
GROUP BY project_id, hour, model;
