"""Span and trace counts of many projects in one ClickHouse query, from the per-trace summaries.

Counts cover everything the projects ever stored (as the real server's do), not the plan's look-back: they are totals
a project owns, not traces a free plan lets its members open. A trace crossing midnight, or written in several
batches, has several summary rows: uniqExact counts it once, and `spans` adds up across them exactly.
The ids are one bound String (UUIDs hold no comma): chDB cannot bind an Array(String) parameter through the layer's
escaping, and ClickHouse still reads the IN list as a set for the primary key.
"""

from dataclasses import dataclass
from uuid import UUID

from agentmode.clickhouse import get_clickhouse
from agentmode.errors import AppError, ErrorCode
from agentmode.observability import logger

COUNTS_SQL = """
SELECT project_id, sum(spans) AS span_count, uniqExact(TraceId) AS trace_count
FROM otel_trace_summaries
WHERE project_id IN splitByChar(',', {ids:String})
GROUP BY project_id
SETTINGS max_threads = 1
"""


@dataclass(frozen=True)
class TraceCounts:
    span_count: int
    trace_count: int


NO_TRACES = TraceCounts(0, 0)


def trace_counts(project_ids: list[UUID]) -> dict[UUID, TraceCounts] | None:
    """Each project's counts (NO_TRACES when it has none), or None while ClickHouse is unavailable: the counts are
    extras of the project list, which is served without them."""
    if not project_ids:
        return {}
    try:
        rows = get_clickhouse().query(COUNTS_SQL, {"ids": ",".join(str(project_id) for project_id in project_ids)})
    except AppError as exc:
        if exc.code is not ErrorCode.SERVICE_UNAVAILABLE:
            raise
        logger.warning("trace counts unavailable; projects listed without them", extra={"reason": exc.details.get("reason")})
        return None
    except Exception as exc:  # noqa: BLE001 - a ClickHouse that refuses the query (schema not applied) must not cost the list
        logger.error("trace counts query failed; projects listed without them", extra={"error_type": type(exc).__name__})
        return None
    found = {UUID(row["project_id"]): TraceCounts(int(row["span_count"]), int(row["trace_count"])) for row in rows}
    return {project_id: found.get(project_id, NO_TRACES) for project_id in project_ids}
