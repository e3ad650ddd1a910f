-- Spans in the layout of the OpenTelemetry collector's ClickHouse exporter, plus columns computed at insert time.
-- project_id leads the sorting key so one project's time range is one primary-key range; the hour bucket keeps
-- a trace's spans close together for the detail lookup. Granules of 1,024 rows (not 8,192): a trace detail reads
-- whole granules of the wide attribute maps, and bench/traces.py measured 14.6 -> 7.7 ms for it (256 gained nothing).
CREATE TABLE IF NOT EXISTS otel_traces
(
    Timestamp DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested
    (
        Timestamp DateTime64(9, 'UTC'),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested
    (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),

    -- The project reaches ClickHouse only as a resource attribute (AgentOps' SDK sets it).
    project_id LowCardinality(String) MATERIALIZED ResourceAttributes['agentops.project.id'],
    -- Exporters spell status codes `Error` (current) or `STATUS_CODE_ERROR` (older versions).
    is_error UInt8 MATERIALIZED StatusCode IN ('Error', 'STATUS_CODE_ERROR'),
    model LowCardinality(String) MATERIALIZED lower(coalesce(
        nullIf(SpanAttributes['gen_ai.response.model'], ''), SpanAttributes['gen_ai.request.model'])),
    -- Token counts in both namings: AgentOps' SDK (prompt/completion) and the OpenTelemetry GenAI conventions
    -- (input/output). Prompt tokens include cache reads and completion tokens include reasoning, as providers report them.
    prompt_tokens UInt64 MATERIALIZED toUInt64OrZero(coalesce(
        nullIf(SpanAttributes['gen_ai.usage.prompt_tokens'], ''), SpanAttributes['gen_ai.usage.input_tokens'])),
    completion_tokens UInt64 MATERIALIZED toUInt64OrZero(coalesce(
        nullIf(SpanAttributes['gen_ai.usage.completion_tokens'], ''), SpanAttributes['gen_ai.usage.output_tokens'])),
    cache_read_tokens UInt64 MATERIALIZED toUInt64OrZero(coalesce(
        nullIf(SpanAttributes['gen_ai.usage.cache_read_input_tokens'], ''), SpanAttributes['gen_ai.usage.cache_read.input_tokens'])),
    reasoning_tokens UInt64 MATERIALIZED toUInt64OrZero(coalesce(
        nullIf(SpanAttributes['gen_ai.usage.reasoning_tokens'], ''), SpanAttributes['gen_ai.usage.reasoning.output_tokens'])),
    total_tokens UInt64 MATERIALIZED if(prompt_tokens + completion_tokens > 0, prompt_tokens + completion_tokens,
        toUInt64OrZero(SpanAttributes['gen_ai.usage.total_tokens'])),
    -- USD. The SDK's own figure when it sent one, else tokens x model_prices; cache reads are billed at their own
    -- price and not again as input. Decimal so that sums are exact and a cursor on cost is stable.
    cost Decimal64(10) MATERIALIZED if(SpanAttributes['gen_ai.usage.total_cost'] != '',
        toDecimal64OrZero(SpanAttributes['gen_ai.usage.total_cost'], 10),
        toDecimal64((
            (prompt_tokens - least(cache_read_tokens, prompt_tokens)) * joinGet('model_prices', 'input_per_million', model)
            + least(cache_read_tokens, prompt_tokens) * joinGet('model_prices', 'cache_read_per_million', model)
            + completion_tokens * joinGet('model_prices', 'output_per_million', model)
        ) / 1000000, 10)),
    -- AgentOps' SDK sends tags as a JSON array in the span attribute `agentops.tags`.
    tags Array(String) MATERIALIZED JSONExtract(SpanAttributes['agentops.tags'], 'Array(String)')
)
ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (project_id, toStartOfHour(Timestamp), TraceId, Timestamp)
SETTINGS index_granularity = 1024, ttl_only_drop_parts = 1;
