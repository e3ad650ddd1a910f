"""Project metrics for a time range, aggregated in ClickHouse: span-level figures from the hourly usage rollup (plus the
spans of the partial hours at the ends), trace-level figures from the per-trace summaries. One pass each, grouping sets."""

from datetime import date
from uuid import UUID

from agentmode.clickhouse import ClickHouse, Params, Row
from traces.schemas import (
    DailyMetrics,
    DurationStats,
    ModelUsage,
    ProjectMetricsResponse,
    StatusCounts,
)
from traces.time_range import TimeRange
from traces.trace_list import token_usage

TOP_MODELS = 10
SPAN_BY_DAY, SPAN_BY_MODEL, SPAN_TOTAL = 1, 2, 3
TRACE_BY_DAY, TRACE_TOTAL = 0, 1

# grouping(day, model) is 1 for a day's row, 2 for a model's row, 3 for the whole range (a bit per column left out).
# The empty set goes last: ClickHouse 26.9 drops it when it comes first. Whole hours inside the range come from the
# hourly rollup; the partial hours at its ends from the spans themselves, so the figures are exact.
SPAN_METRICS_SQL = """
SELECT
    grouping(day, model) AS level,
    day,
    model,
    sum(span_rows) AS spans,
    sum(error_rows) AS error_spans,
    sum(prompt) AS prompt_tokens,
    sum(completion) AS completion_tokens,
    sum(cache_read) AS cache_read_tokens,
    sum(reasoning) AS reasoning_tokens,
    sum(tokens) AS total_tokens,
    sum(cost_usd) AS cost_exact,
    toFloat64(cost_exact) AS total_cost
FROM
(
    SELECT toString(toDate(hour)) AS day, model, spans AS span_rows, errors AS error_rows, prompt, completion,
           cache_read, reasoning, tokens, cost_usd
    FROM otel_usage_hourly
    WHERE project_id = {project_id:String}
        AND hour >= toDateTime({whole_start_s:Int64}, 'UTC') AND hour < toDateTime({whole_end_s:Int64}, 'UTC')
    UNION ALL
    SELECT toString(toDate(Timestamp)) AS day, model, toUInt64(1) AS span_rows, toUInt64(is_error) AS error_rows,
           prompt_tokens AS prompt, completion_tokens AS completion, cache_read_tokens AS cache_read,
           reasoning_tokens AS reasoning, total_tokens AS tokens, toDecimal128(cost, 10) AS cost_usd
    FROM otel_traces
    WHERE project_id = {project_id:String}
        AND Timestamp >= fromUnixTimestamp64Nano({start_ns:Int64}, 'UTC')
        AND Timestamp < fromUnixTimestamp64Nano({end_ns:Int64}, 'UTC')
        AND (Timestamp < toDateTime({whole_start_s:Int64}, 'UTC') OR Timestamp >= toDateTime({whole_end_s:Int64}, 'UTC'))
)
GROUP BY GROUPING SETS ((day), (model), ())
ORDER BY level, day, cost_exact DESC, total_tokens DESC, model
"""

# A trace belongs to the range, and to a day, by its first span (as in the trace list).
TRACE_METRICS_SQL = """
SELECT
    grouping(day) AS level,
    toString(toDate(fromUnixTimestamp64Nano(start_ns, 'UTC'))) AS day,
    count() AS traces,
    countIf(error_count > 0) AS error_traces,
    min(duration_ns) AS duration_min,
    avg(duration_ns) AS duration_avg,
    quantileExact(0.5)(duration_ns) AS duration_p50,
    quantileExact(0.95)(duration_ns) AS duration_p95,
    max(duration_ns) AS duration_max
FROM
(
    SELECT
        toUnixTimestamp64Nano(min(first_span).start) AS start_ns,
        toUnixTimestamp64Nano(max(trace_end)) - start_ns AS duration_ns,
        sum(errors) AS error_count
    FROM otel_trace_summaries
    WHERE project_id = {project_id:String}
        AND day BETWEEN toDate(fromUnixTimestamp64Nano({start_ns:Int64}, 'UTC') - INTERVAL 1 DAY)
                    AND toDate(fromUnixTimestamp64Nano({end_ns:Int64}, 'UTC') + INTERVAL 1 DAY)
    GROUP BY TraceId
    HAVING start_ns >= {start_ns:Int64} AND start_ns < {end_ns:Int64}
)
GROUP BY GROUPING SETS ((day), ())
ORDER BY level, day
"""


def project_metrics(ch: ClickHouse, project_id: UUID, time_range: TimeRange) -> ProjectMetricsResponse:
    params: Params = {"project_id": str(project_id), "start_ns": time_range.start_ns, "end_ns": time_range.end_ns}
    span_rows = ch.query(SPAN_METRICS_SQL, {**params, **_whole_hours(time_range)})
    trace_rows = ch.query(TRACE_METRICS_SQL, params)
    spans = next(row for row in span_rows if row["level"] == SPAN_TOTAL)
    traces = next(row for row in trace_rows if row["level"] == TRACE_TOTAL)
    return ProjectMetricsResponse(
        project_id=project_id,
        range=time_range.window(),
        span_count=spans["spans"],
        trace_count=traces["traces"],
        tokens=token_usage(spans),
        total_cost=spans["total_cost"],
        spans=StatusCounts(success=spans["spans"] - spans["error_spans"], error=spans["error_spans"]),
        traces=StatusCounts(success=traces["traces"] - traces["error_traces"], error=traces["error_traces"]),
        duration=_durations(traces),
        daily=_daily(span_rows, trace_rows),
        top_models=[
            ModelUsage(model=row["model"], spans=row["spans"], total_tokens=row["total_tokens"], total_cost=row["total_cost"])
            for row in span_rows
            if row["level"] == SPAN_BY_MODEL and row["model"]
        ][:TOP_MODELS],
    )


def _whole_hours(time_range: TimeRange) -> dict[str, int]:
    """The hours wholly inside the range, in seconds: [first hour start >= start, last hour start <= end). Empty
    (start after end) when the range lies within one or two partial hours; the spans then cover it all."""
    hour_ns = 3_600 * 1_000_000_000
    whole_start = -(-time_range.start_ns // hour_ns) * 3_600
    whole_end = time_range.end_ns // hour_ns * 3_600
    return {"whole_start_s": whole_start, "whole_end_s": whole_end}


def _durations(row: Row) -> DurationStats:
    if row["traces"] == 0:
        return DurationStats(min=0, avg=0.0, p50=0, p95=0, max=0)
    return DurationStats(
        min=row["duration_min"],
        avg=row["duration_avg"],
        p50=row["duration_p50"],
        p95=row["duration_p95"],
        max=row["duration_max"],
    )


def _daily(span_rows: list[Row], trace_rows: list[Row]) -> list[DailyMetrics]:
    """Days with spans or trace starts, in order: the two grouped results side by side."""
    by_day: dict[str, DailyMetrics] = {}
    for row in span_rows:
        if row["level"] == SPAN_BY_DAY:
            by_day[row["day"]] = DailyMetrics(
                date=date.fromisoformat(row["day"]),
                traces=0,
                spans=row["spans"],
                total_tokens=row["total_tokens"],
                total_cost=row["total_cost"],
            )
    for row in trace_rows:
        if row["level"] == TRACE_BY_DAY:
            day = by_day.setdefault(
                row["day"], DailyMetrics(date=date.fromisoformat(row["day"]), traces=0, spans=0, total_tokens=0, total_cost=0.0)
            )
            day.traces = row["traces"]
    return [by_day[key] for key in sorted(by_day)]
