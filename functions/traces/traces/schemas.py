"""Response bodies of the traces function."""

from datetime import date, datetime
from uuid import UUID

from pydantic import Field

from agentmode.api_model import ApiModel


class TokenUsage(ApiModel):
    prompt_tokens: int = Field(description="Input tokens, cache reads included.")
    completion_tokens: int = Field(description="Output tokens, reasoning included.")
    cache_read_tokens: int
    reasoning_tokens: int
    total_tokens: int = Field(description="prompt_tokens + completion_tokens.")


class TraceRow(ApiModel):
    trace_id: str
    root_span_name: str
    service_name: str
    tags: list[str]
    start_time: datetime
    end_time: datetime = Field(description="The latest end of any span of the trace.")
    duration_ns: int = Field(description="First span start to last span end, in nanoseconds.")
    span_count: int
    error_count: int
    tokens: TokenUsage
    total_cost: float = Field(description="USD.")


class TraceListTotals(ApiModel):
    """Every trace matching the filters in the range, not only this page."""

    traces: int
    spans: int
    errors: int
    total_tokens: int
    total_cost: float


class TimeWindow(ApiModel):
    start_time: datetime
    end_time: datetime
    plan_limited: bool = Field(description="True when the free plan's look-back limit moved start_time later than asked.")


class TraceListResponse(ApiModel):
    project_id: UUID
    traces: list[TraceRow]
    totals: TraceListTotals
    range: TimeWindow
    limit: int
    offset: int
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class SpanEvent(ApiModel):
    time: datetime
    name: str
    attributes: dict[str, str]


class SpanLink(ApiModel):
    trace_id: str
    span_id: str
    attributes: dict[str, str]


class Span(ApiModel):
    span_id: str
    parent_span_id: str | None = Field(description="Null for a root, or when the parent is not in this trace.")
    depth: int = Field(description="0 for roots; a child's depth is its parent's plus one.")
    name: str
    kind: str
    service_name: str
    start_time: datetime
    end_time: datetime
    duration_ns: int
    status_code: str
    status_message: str
    is_error: bool
    model: str | None
    tokens: TokenUsage
    cost: float = Field(description="USD.")
    attributes: dict[str, str]
    resource_attributes: dict[str, str]
    events: list[SpanEvent]
    links: list[SpanLink]


class TraceDetailResponse(ApiModel):
    project_id: UUID
    trace_id: str
    span_count: int = Field(description="Spans in the trace; `spans` holds at most TRACE_DETAIL_MAX_SPANS of them.")
    truncated: bool
    root_span_ids: list[str]
    spans: list[Span] = Field(description="In start order; each names its parent, so the tree is one pass away.")


class DurationStats(ApiModel):
    """Trace durations (first span start to last span end), nanoseconds."""

    min: int
    avg: float
    p50: int
    p95: int
    max: int


class StatusCounts(ApiModel):
    success: int
    error: int


class DailyMetrics(ApiModel):
    date: date
    traces: int
    spans: int
    total_tokens: int
    total_cost: float


class ModelUsage(ApiModel):
    model: str
    spans: int
    total_tokens: int
    total_cost: float


class ProjectMetricsResponse(ApiModel):
    project_id: UUID
    range: TimeWindow
    span_count: int
    trace_count: int
    tokens: TokenUsage
    total_cost: float = Field(description="USD.")
    spans: StatusCounts
    traces: StatusCounts = Field(description="A trace is an error when any of its spans is.")
    duration: DurationStats
    daily: list[DailyMetrics] = Field(description="UTC days; traces counted on the day they start.")
    top_models: list[ModelUsage] = Field(description="At most 10, by cost then tokens.")
