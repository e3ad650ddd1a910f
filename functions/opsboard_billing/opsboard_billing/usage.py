"""Tokens and spans per project over a time range, in one ClickHouse query: whole hours from the hourly usage rollup,
the partial hours at either end from the spans themselves, so the figures are exact to the nanosecond (as the traces
function's project metrics are). ClickHouse unavailable: None, and the dashboard is served without usage.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from agentmode.errors import AppError, ErrorCode
from agentmode.observability import logger

# The project ids are one bound String (UUIDs hold no comma), as in opsboard_projects' trace counts.
USAGE_SQL = """
SELECT project_id, sum(span_rows) AS spans, sum(token_sum) AS tokens
FROM
(
    SELECT project_id, spans AS span_rows, tokens AS token_sum
    FROM otel_usage_hourly
    WHERE project_id IN splitByChar(',', {ids:String})
        AND hour >= toDateTime({whole_start_s:Int64}, 'UTC') AND hour < toDateTime({whole_end_s:Int64}, 'UTC')
    UNION ALL
    SELECT project_id, toUInt64(1) AS span_rows, total_tokens AS token_sum
    FROM otel_traces
    WHERE project_id IN splitByChar(',', {ids:String})
        AND Timestamp >= fromUnixTimestamp64Nano({start_ns:Int64}, 'UTC')
        AND Timestamp < fromUnixTimestamp64Nano({end_ns:Int64}, 'UTC')
        AND (Timestamp < toDateTime({whole_start_s:Int64}, 'UTC') OR Timestamp >= toDateTime({whole_end_s:Int64}, 'UTC'))
)
GROUP BY project_id
SETTINGS max_threads = 1
"""

HOUR_NS = 3_600 * 1_000_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The window the tables can hold (ClickHouse Date and Int64 nanoseconds wrap outside it); no span lies beyond.
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
LATEST = datetime(2149, 6, 5, tzinfo=UTC)


@dataclass(frozen=True)
class Usage:
    tokens: int
    spans: int


NO_USAGE = Usage(0, 0)


def _ns(moment: datetime) -> int:
    delta = min(max(moment, EARLIEST), LATEST) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def range_params(start: datetime, end: datetime) -> dict[str, int]:
    """[start, end) in nanoseconds, and the hours wholly inside it in seconds (empty when it lies within partial hours:
    the spans then cover it all)."""
    start_ns, end_ns = _ns(start), _ns(end)
    return {
        "start_ns": start_ns,
        "end_ns": end_ns,
        "whole_start_s": -(-start_ns // HOUR_NS) * 3_600,
        "whole_end_s": end_ns // HOUR_NS * 3_600,
    }


def usage_by_project(project_ids: list[UUID], start: datetime, end: datetime) -> dict[UUID, Usage] | None:
    """Each project's usage in [start, end) (NO_USAGE when it has none), or None while ClickHouse is unavailable."""
    if not project_ids:
        return {}
    from agentmode.clickhouse import get_clickhouse  # here: only the dashboard reads ClickHouse

    params: dict[str, str | int] = {"ids": ",".join(str(project_id) for project_id in project_ids), **range_params(start, end)}
    try:
        rows = get_clickhouse().query(USAGE_SQL, params)
    except AppError as exc:
        if exc.code is not ErrorCode.SERVICE_UNAVAILABLE:
            raise
        logger.warning("usage unavailable; billing dashboard served without it", extra={"reason": exc.details.get("reason")})
        return None
    except Exception as exc:  # noqa: BLE001 - a ClickHouse that refuses the query (schema not applied) must not cost the seats
        logger.error("usage query failed; billing dashboard served without it", extra={"error_type": type(exc).__name__})
        return None
    found = {UUID(row["project_id"]): Usage(int(row["tokens"]), int(row["spans"])) for row in rows}
    return {project_id: found.get(project_id, NO_USAGE) for project_id in project_ids}
