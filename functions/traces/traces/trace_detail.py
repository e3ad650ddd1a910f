"""One trace: every span with its parent link, read from the by-trace copy of the spans in one primary-key range."""

import json
from uuid import UUID

from agentmode.clickhouse import ClickHouse, Row
from agentmode.errors import AppError, ErrorCode
from traces.schemas import Span, SpanEvent, SpanLink, TraceDetailResponse
from traces.time_range import from_ns
from traces.trace_list import token_usage

# One primary-key range of the by-trace copy; each span arrives as one JSON object (see clickhouse/0003).
DETAIL_SQL = """
SELECT span, count() OVER () AS span_count
FROM otel_spans_by_trace
WHERE project_id = {project_id:String} AND TraceId = {trace_id:String}
ORDER BY Timestamp
LIMIT {max_spans:UInt32}
"""


def trace_detail(ch: ClickHouse, project_id: UUID, trace_id: str, max_spans: int, *, earliest_ns: int) -> TraceDetailResponse:
    """NOT_FOUND also for a trace that starts before `earliest_ns` (the plan's look-back), as the list would not show it."""
    rows = ch.query(DETAIL_SQL, {"project_id": str(project_id), "trace_id": trace_id, "max_spans": max_spans})
    # Spans come in start order, so the first one's start is the trace's.
    parsed = [json.loads(row["span"]) for row in rows]
    if not parsed or int(parsed[0]["start_ns"]) < earliest_ns:
        raise AppError(ErrorCode.NOT_FOUND, "Trace not found.")
    spans = _spans_with_depth(parsed)
    span_count = int(rows[0]["span_count"])
    return TraceDetailResponse(
        project_id=project_id,
        trace_id=trace_id,
        span_count=span_count,
        truncated=span_count > len(rows),
        root_span_ids=[span.span_id for span in spans if span.parent_span_id is None],
        spans=spans,
    )


def _spans_with_depth(rows: list[Row]) -> list[Span]:
    """Parents are resolved within the trace; a span whose parent is missing (not exported, or beyond the cap) is a root."""
    present = {row["span_id"] for row in rows}
    parent_of = {row["span_id"]: row["parent_span_id"] for row in rows if row["parent_span_id"] in present}
    depth: dict[str, int] = {}
    for span_id in present:
        chain = []
        node = span_id
        # Walk up to a span of known depth; `chain` guards against a cycle in corrupt data.
        while node not in depth and node in parent_of and node not in chain:
            chain.append(node)
            node = parent_of[node]
        base = depth.get(node, 0)
        if node not in depth:
            depth[node] = 0
        for offset, item in enumerate(reversed(chain), start=1):
            depth[item] = base + offset
    return [_span(row, depth[row["span_id"]], row["span_id"] in parent_of) for row in rows]


def _span(row: Row, depth: int, has_parent: bool) -> Span:
    return Span(
        span_id=row["span_id"],
        parent_span_id=row["parent_span_id"] if has_parent else None,
        depth=depth,
        name=row["name"],
        kind=row["kind"],
        service_name=row["service_name"],
        start_time=from_ns(int(row["start_ns"])),
        end_time=from_ns(int(row["start_ns"]) + int(row["duration_ns"])),
        duration_ns=row["duration_ns"],
        status_code=row["status_code"],
        status_message=row["status_message"],
        is_error=bool(row["is_error"]),
        model=row["model"] or None,
        tokens=token_usage(row),
        cost=row["cost"],
        attributes=row["attributes"],
        resource_attributes=row["resource_attributes"],
        events=[
            SpanEvent(time=from_ns(int(ns)), name=name, attributes=attributes)
            for ns, name, attributes in zip(row["event_times_ns"], row["event_names"], row["event_attributes"], strict=True)
        ],
        links=[
            SpanLink(trace_id=trace, span_id=span, attributes=attributes)
            for trace, span, attributes in zip(row["link_trace_ids"], row["link_span_ids"], row["link_attributes"], strict=True)
        ],
    )
