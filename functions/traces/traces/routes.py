"""The routes of the traces function: parse, authorize against Postgres, query ClickHouse, shape the response."""

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query

from agentmode.app_factory import documented_errors
from agentmode.auth import CurrentUser
from agentmode.clickhouse import get_clickhouse
from agentmode.errors import AppError, ErrorCode
from agentmode.observability import metrics
from agentmode.settings import get_settings
from traces import cursor as cursors
from traces.access import project_plan
from traces.cursor import TRACE_ID_PATTERN, OrderBy, SortOrder
from traces.project_metrics import project_metrics
from traces.schemas import ProjectMetricsResponse, TraceDetailResponse, TraceListResponse
from traces.time_range import plan_floor_ns, resolve_range, within_plan
from traces.trace_detail import trace_detail
from traces.trace_list import ListRequest, list_traces

router = APIRouter(tags=["traces"])

NOT_FOUND = documented_errors((404, "NOT_FOUND: no such project (or trace) for this caller"))
ProjectId = Annotated[UUID, Query(description="A project of an organization the caller belongs to.")]
StartTime = Annotated[datetime | None, Query(description="ISO 8601, inclusive; default end_time minus 7 days.")]
EndTime = Annotated[datetime | None, Query(description="ISO 8601, exclusive; default now.")]
MAX_OFFSET = 10_000


@router.get("/v4/traces", response_model=TraceListResponse, responses=NOT_FOUND)
async def get_traces(
    user: CurrentUser,
    project_id: ProjectId,
    start_time: StartTime = None,
    end_time: EndTime = None,
    span_name: Annotated[str | None, Query(min_length=1, max_length=256, description="Traces with a span of this name.")] = None,
    query: Annotated[
        str | None, Query(min_length=1, max_length=256, description="Text in the trace id, root span name or tags.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip; prefer `cursor` for deep pages.")] = 0,
    order_by: OrderBy = "start_time",
    sort_order: SortOrder = "desc",
    cursor: Annotated[str | None, Query(min_length=1, max_length=1024, description="`next_cursor` of the previous page.")] = None,
) -> TraceListResponse:
    settings = get_settings()
    cursor_key = cursors.signing_key(settings)
    now = datetime.now(UTC)
    plan = project_plan(user, project_id)
    after = None
    if cursor is None:
        time_range = resolve_range(start_time, end_time, plan, settings, now)
    else:
        after = cursors.verify(cursor, cursors.filters_fingerprint(str(project_id), span_name, query), cursor_key)
        if offset or (after.order_by, after.sort_order) != (order_by, sort_order):
            raise AppError(
                ErrorCode.VALIDATION_ERROR,
                "A cursor continues the listing it came from: same filters and sort, no offset.",
                {"field": "cursor"},
            )
        # The plan's window again, at this page's time: a cursor outlives the plan it was issued under.
        time_range = within_plan(after.start_ns, after.end_ns, plan, settings, now)
    request = ListRequest(project_id, time_range, span_name, query, order_by, sort_order, limit, offset, after)
    result = list_traces(get_clickhouse(settings), request, cursor_key)
    metrics.add_metric(name="TraceListReads", unit="Count", value=1)
    return result


@router.get("/v4/traces/{trace_id}", response_model=TraceDetailResponse, responses=NOT_FOUND)
async def get_trace(
    user: CurrentUser,
    project_id: ProjectId,
    trace_id: Annotated[str, Path(pattern=TRACE_ID_PATTERN, description="32 lowercase hex characters.")],
) -> TraceDetailResponse:
    settings = get_settings()
    earliest_ns = plan_floor_ns(project_plan(user, project_id), settings, datetime.now(UTC))
    result = trace_detail(
        get_clickhouse(settings), project_id, trace_id.lower(), settings.trace_detail_max_spans, earliest_ns=earliest_ns
    )
    metrics.add_metric(name="TraceDetailReads", unit="Count", value=1)
    return result


async def _project_metrics(
    user: CurrentUser, project_id: ProjectId, start_time: StartTime = None, end_time: EndTime = None
) -> ProjectMetricsResponse:
    settings = get_settings()
    time_range = resolve_range(start_time, end_time, project_plan(user, project_id), settings, datetime.now(UTC))
    result = project_metrics(get_clickhouse(settings), project_id, time_range)
    metrics.add_metric(name="ProjectMetricsReads", unit="Count", value=1)
    return result


# Seed 000 spells the prefix `meterics` on purpose; `metrics` answers too, for the spelling people type.
router.add_api_route(
    "/v4/meterics/project", _project_metrics, methods=["GET"], response_model=ProjectMetricsResponse, responses=NOT_FOUND
)
router.add_api_route(
    "/v4/metrics/project",
    _project_metrics,
    methods=["GET"],
    response_model=ProjectMetricsResponse,
    responses=NOT_FOUND,
    operation_id="get_project_metrics_alias",
)
