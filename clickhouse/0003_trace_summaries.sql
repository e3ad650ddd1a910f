-- One row per (project, day, trace) kept up to date at insert time, so listing and sorting traces never groups spans.
-- Inserts of one trace's spans that land on the same day merge into one row; the list query still aggregates by
-- TraceId, so partial rows (a trace's spans written in several batches, or a trace crossing midnight) add up exactly.
CREATE TABLE IF NOT EXISTS otel_trace_summaries
(
    project_id LowCardinality(String),
    day Date,
    TraceId String,
    trace_start SimpleAggregateFunction(min, DateTime64(9, 'UTC')),
    trace_end SimpleAggregateFunction(max, DateTime64(9, 'UTC')),
    -- Empty unless this row saw the trace's root span; the first span's name stands in until the root arrives.
    root_name SimpleAggregateFunction(max, String),
    root_service SimpleAggregateFunction(max, String),
    first_name AggregateFunction(argMin, String, DateTime64(9, 'UTC')),
    first_service AggregateFunction(argMin, String, DateTime64(9, 'UTC')),
    spans SimpleAggregateFunction(sum, UInt64),
    errors SimpleAggregateFunction(sum, UInt64),
    prompt SimpleAggregateFunction(sum, UInt64),
    completion SimpleAggregateFunction(sum, UInt64),
    cache_read SimpleAggregateFunction(sum, UInt64),
    reasoning SimpleAggregateFunction(sum, UInt64),
    tokens SimpleAggregateFunction(sum, UInt64),
    cost_usd SimpleAggregateFunction(sum, Decimal128(10)),
    tag_set SimpleAggregateFunction(groupUniqArrayArray, Array(String))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (project_id, day, TraceId);

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_trace_summaries_mv TO otel_trace_summaries AS
SELECT
    project_id,
    toDate(Timestamp) AS day,
    TraceId,
    min(Timestamp) AS trace_start,
    max(Timestamp + toIntervalNanosecond(Duration)) AS trace_end,
    maxIf(SpanName, ParentSpanId = '') AS root_name,
    maxIf(ServiceName, ParentSpanId = '') AS root_service,
    argMinState(toString(SpanName), Timestamp) AS first_name,
    argMinState(toString(ServiceName), Timestamp) AS first_service,
    toUInt64(count()) AS spans,
    toUInt64(sum(is_error)) AS errors,
    sum(prompt_tokens) AS prompt,
    sum(completion_tokens) AS completion,
    sum(cache_read_tokens) AS cache_read,
    sum(reasoning_tokens) AS reasoning,
    sum(total_tokens) AS tokens,
    toDecimal128(sum(cost), 10) AS cost_usd,
    groupUniqArrayArray(tags) AS tag_set
FROM otel_traces
GROUP BY project_id, day, TraceId;

-- Where a trace's spans are: its first and last span start per project, for the detail query's primary-key range
-- (the exporter's otel_traces_trace_id_ts, keyed by project as well).
CREATE TABLE IF NOT EXISTS otel_trace_lookup
(
    project_id LowCardinality(String),
    TraceId String,
    first_start SimpleAggregateFunction(min, DateTime64(9, 'UTC')),
    last_start SimpleAggregateFunction(max, DateTime64(9, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (project_id, TraceId);

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_trace_lookup_mv TO otel_trace_lookup AS
SELECT project_id, TraceId, min(Timestamp) AS first_start, max(Timestamp) AS last_start
FROM otel_traces
GROUP BY project_id, TraceId;
