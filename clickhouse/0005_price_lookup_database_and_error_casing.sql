-- Two fixes to otel_traces' computed columns, for databases that applied 0002 (new ones apply this file too).
--
-- 1. joinGet resolves an unqualified table in the database of the session that inserts, not of the table: the
--    collector's exporter inserts from its own database (`otel` unless configured), where that failed with
--    "Table otel.model_prices does not exist". The price table is now named with the database this schema lives in;
--    local/clickhouse_schema.py fills in {database}. Spans already stored keep the cost they were written with.
ALTER TABLE otel_traces
    MODIFY COLUMN cost Decimal64(10) MATERIALIZED if(SpanAttributes['gen_ai.usage.total_cost'] != '',
        toDecimal64OrZero(SpanAttributes['gen_ai.usage.total_cost'], 10),
        toDecimal64((
            (prompt_tokens - least(cache_read_tokens, prompt_tokens)) * joinGet('{database}.model_prices', 'input_per_million', model)
            + least(cache_read_tokens, prompt_tokens) * joinGet('{database}.model_prices', 'cache_read_per_million', model)
            + completion_tokens * joinGet('{database}.model_prices', 'output_per_million', model)
        ) / 1000000, 10));

-- 2. Error statuses in any casing ('error', 'ERROR', 'status_code_error', ...), as AgentOps reads them; 0002 counted
--    only `Error` and `STATUS_CODE_ERROR`. The views count errors through is_error, so new spans are right everywhere.
ALTER TABLE otel_traces
    MODIFY COLUMN is_error UInt8 MATERIALIZED upper(StatusCode) IN ('ERROR', 'STATUS_CODE_ERROR');

-- Spans stored before the change keep is_error = 0 until it is re-materialized below, which is how the statements
-- up to there find exactly the spans 0002 missed (spans inserted since the change already count). Their trace
-- summaries and hourly rows get one extra row each carrying the missed errors: every sum but `errors` is 0, and the
-- min/max columns are the views' own expressions over some of the trace's spans, which cannot move its min or max.
INSERT INTO otel_trace_summaries
SELECT
    project_id,
    toDate(Timestamp) AS day,
    TraceId,
    min(tuple(Timestamp, toString(SpanName), toString(ServiceName))) AS first_span,
    max(if(ParentSpanId = '', tuple(toString(SpanName), toString(ServiceName)), tuple('', ''))) AS root_span,
    max(Timestamp + toIntervalNanosecond(Duration)) AS trace_end,
    toUInt64(0) AS spans,
    toUInt64(count()) AS errors,
    toUInt64(0) AS prompt,
    toUInt64(0) AS completion,
    toUInt64(0) AS cache_read,
    toUInt64(0) AS reasoning,
    toUInt64(0) AS tokens,
    toDecimal128(0, 10) AS cost_usd,
    CAST([], 'Array(String)') AS tag_set
FROM otel_traces
WHERE is_error = 0 AND upper(StatusCode) IN ('ERROR', 'STATUS_CODE_ERROR')
GROUP BY project_id, day, TraceId;

INSERT INTO otel_usage_hourly
SELECT
    project_id,
    toStartOfHour(Timestamp) AS hour,
    model,
    toUInt64(0) AS spans,
    toUInt64(count()) AS errors,
    toUInt64(0) AS prompt,
    toUInt64(0) AS completion,
    toUInt64(0) AS cache_read,
    toUInt64(0) AS reasoning,
    toUInt64(0) AS tokens,
    toDecimal128(0, 10) AS cost_usd
FROM otel_traces
WHERE is_error = 0 AND upper(StatusCode) IN ('ERROR', 'STATUS_CODE_ERROR')
GROUP BY project_id, hour, model;

-- The detail's copy of each span is JSON whose first `"is_error":` is the key: the values before it are numbers
-- and strings, and a string's own quotes are escaped.
ALTER TABLE otel_spans_by_trace
    UPDATE span = replaceOne(span, '"is_error":0', '"is_error":1')
    WHERE upper(JSONExtractString(span, 'status_code')) IN ('ERROR', 'STATUS_CODE_ERROR')
        AND JSONExtractUInt(span, 'is_error') = 0
    SETTINGS mutations_sync = 2;

ALTER TABLE otel_traces MATERIALIZE COLUMN is_error SETTINGS mutations_sync = 2;
