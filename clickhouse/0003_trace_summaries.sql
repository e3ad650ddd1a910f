-- One row per (project, day, trace) kept up to date at insert time, so listing and sorting traces never groups spans.
-- Inserts of one trace's spans that land on the same day merge into one row; the list query still aggregates by
-- TraceId, so partial rows (a trace's spans written in several batches, or a trace crossing midnight) add up exactly.
-- Tuples under min/max rather than argMin states: bench/traces.py measured the states' merge at ~2.5 ms a page.
CREATE TABLE IF NOT EXISTS otel_trace_summaries
(
    project_id LowCardinality(String),
    day Date,
    TraceId String,
    -- The earliest span: its start is the trace's start; its name and service stand in until the root arrives.
    first_span SimpleAggregateFunction(min, Tuple(start DateTime64(9, 'UTC'), name String, service String)),
    -- ('', '') unless this row saw the root span (the one without a parent).
    root_span SimpleAggregateFunction(max, Tuple(name String, service String)),
    trace_end SimpleAggregateFunction(max, DateTime64(9, 'UTC')),
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
    min(tuple(Timestamp, toString(SpanName), toString(ServiceName))) AS first_span,
    max(if(ParentSpanId = '', tuple(toString(SpanName), toString(ServiceName)), tuple('', ''))) AS root_span,
    max(Timestamp + toIntervalNanosecond(Duration)) AS trace_end,
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

-- Every span again, ordered by trace and serialized into one column: the trace detail reads one column of one
-- primary-key range. Reading the 27 columns of otel_traces for a trace took ~13 ms (a granule per column); this
-- ~5 ms, for ~1.4x the spans' storage (bench/traces.py).
CREATE TABLE IF NOT EXISTS otel_spans_by_trace
(
    project_id LowCardinality(String),
    TraceId String,
    Timestamp DateTime64(9, 'UTC'),
    span String CODEC(ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(Timestamp)
ORDER BY (project_id, TraceId, Timestamp)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_spans_by_trace_mv TO otel_spans_by_trace AS
SELECT
    project_id,
    TraceId,
    Timestamp,
    formatRowNoNewline('JSONEachRow',
        SpanId AS span_id, ParentSpanId AS parent_span_id, SpanName AS name, SpanKind AS kind,
        ServiceName AS service_name, toUnixTimestamp64Nano(Timestamp) AS start_ns, Duration AS duration_ns,
        StatusCode AS status_code, StatusMessage AS status_message, is_error, model, prompt_tokens, completion_tokens,
        cache_read_tokens, reasoning_tokens, total_tokens, toFloat64(cost) AS cost, SpanAttributes AS attributes,
        ResourceAttributes AS resource_attributes,
        arrayMap(t -> toUnixTimestamp64Nano(t), `Events.Timestamp`) AS event_times_ns, `Events.Name` AS event_names,
        `Events.Attributes` AS event_attributes, `Links.TraceId` AS link_trace_ids, `Links.SpanId` AS link_span_ids,
        `Links.Attributes` AS link_attributes) AS span
FROM otel_traces;
