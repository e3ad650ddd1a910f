"""GET /v4/traces: a project's traces from ClickHouse (chDB, in-process or over HTTP), for members of the project's org only."""

import uuid
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from agentmode.clickhouse import ClickHouse
from tests.factories import User
from tests.lambda_invoke import Result, invoke
from tests.trace_data import NOW, Span, create_project, insert_spans, llm_attributes, new_trace_id, simple_trace

# Each test runs on both ClickHouse paths, ids [chdb] and [http] (tests/functional/conftest.py).
pytestmark = pytest.mark.usefixtures("clickhouse_path")


def list_traces(user: User, project: uuid.UUID, **query: Any) -> Result:
    return invoke("GET", "/v4/traces", headers=user.auth, query={"project_id": str(project), **query})


@pytest.fixture
def project(clickhouse: ClickHouse, admin: psycopg.Connection[Any], user: User) -> uuid.UUID:
    """A project of the user's organization; ClickHouse has its schema by then."""
    return create_project(admin, user.id)


def test_a_trace_row_summarises_all_its_spans(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    trace_id = new_trace_id()
    start = NOW - timedelta(hours=2)
    root = Span(
        trace_id,
        "video_ad.generate",
        start=start,
        duration=timedelta(seconds=5),
        attributes={"agentops.tags": '["prod","video"]'},
    )
    llm = Span(
        trace_id,
        "openai.chat.completion",
        parent_span_id=root.span_id,
        start=start + timedelta(seconds=1),
        duration=timedelta(seconds=30),  # ends after the root: duration runs to the last end
        attributes=llm_attributes("gpt-4o", 1000, 200, **{"gen_ai.usage.total_cost": "0.5"}),
    )
    tool = Span(trace_id, "tool.web_search", parent_span_id=root.span_id, start=start + timedelta(seconds=2), status_code="Error")
    insert_spans(clickhouse, project, [root, llm, tool])

    result = list_traces(user, project)

    assert result.status == 200, result.body
    [row] = result.body["traces"]
    assert row["trace_id"] == trace_id
    assert row["root_span_name"] == "video_ad.generate"
    assert row["service_name"] == "agents"
    assert row["tags"] == ["prod", "video"]
    assert row["span_count"] == 3
    assert row["error_count"] == 1
    assert row["duration_ns"] == 31_000_000_000
    assert row["tokens"]["prompt_tokens"] == 1000
    assert row["tokens"]["total_tokens"] == 1200
    assert row["total_cost"] == pytest.approx(0.5)
    assert result.body["totals"] == {"traces": 1, "spans": 3, "errors": 1, "total_tokens": 1200, "total_cost": 0.5}
    assert result.body["next_cursor"] is None


def test_spans_written_in_several_batches_and_across_midnight_add_up(
    clickhouse: ClickHouse, user: User, project: uuid.UUID
) -> None:
    trace_id = new_trace_id()
    midnight = NOW.replace(hour=0, minute=0, second=0) - timedelta(days=1)
    root = Span(trace_id, "night.run", start=midnight - timedelta(minutes=1), duration=timedelta(minutes=3))
    insert_spans(clickhouse, project, [root])
    insert_spans(
        clickhouse, project, [Span(trace_id, "late", parent_span_id=root.span_id, start=midnight + timedelta(minutes=1))]
    )

    [row] = list_traces(user, project).body["traces"]

    assert (row["span_count"], row["root_span_name"], row["duration_ns"]) == (2, "night.run", 180_000_000_000)


def test_the_default_range_is_the_last_seven_days(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    recent = simple_trace(clickhouse, project, start=NOW - timedelta(days=6))
    simple_trace(clickhouse, project, start=NOW - timedelta(days=8))

    assert [row["trace_id"] for row in list_traces(user, project).body["traces"]] == [recent]


def test_start_and_end_time_bound_the_traces_by_their_first_span(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    inside = simple_trace(clickhouse, project, start=NOW - timedelta(days=20))
    simple_trace(clickhouse, project, start=NOW - timedelta(days=25))
    simple_trace(clickhouse, project, start=NOW - timedelta(days=10))

    result = list_traces(
        user,
        project,
        start_time=(NOW - timedelta(days=21)).isoformat(),
        end_time=(NOW - timedelta(days=19)).isoformat(),
    )

    assert [row["trace_id"] for row in result.body["traces"]] == [inside]
    assert result.body["totals"]["traces"] == 1


def test_an_empty_range_answers_an_empty_page_with_zero_totals(user: User, project: uuid.UUID) -> None:
    result = list_traces(user, project)

    assert result.status == 200
    assert result.body["traces"] == []
    assert result.body["totals"] == {"traces": 0, "spans": 0, "errors": 0, "total_tokens": 0, "total_cost": 0.0}


def test_end_before_start_is_a_validation_error(user: User, project: uuid.UUID) -> None:
    result = list_traces(user, project, start_time=NOW.isoformat(), end_time=(NOW - timedelta(days=1)).isoformat())

    assert (result.status, result.body["error_code"]) == (400, "VALIDATION_ERROR")


def test_a_free_plan_organization_sees_three_days(clickhouse: ClickHouse, admin: psycopg.Connection[Any], user: User) -> None:
    project = create_project(admin, user.id, plan="free")
    recent = simple_trace(clickhouse, project, start=NOW - timedelta(days=2))
    simple_trace(clickhouse, project, start=NOW - timedelta(days=5))

    result = list_traces(user, project, start_time=(NOW - timedelta(days=30)).isoformat())

    assert [row["trace_id"] for row in result.body["traces"]] == [recent]
    assert result.body["range"]["plan_limited"] is True


def test_a_pro_organization_sees_its_whole_range(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    simple_trace(clickhouse, project, start=NOW - timedelta(days=2))
    simple_trace(clickhouse, project, start=NOW - timedelta(days=5))

    result = list_traces(user, project, start_time=(NOW - timedelta(days=30)).isoformat())

    assert result.body["totals"]["traces"] == 2
    assert result.body["range"]["plan_limited"] is False


def test_span_name_keeps_traces_with_a_span_of_that_name(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    wanted = new_trace_id()
    root = Span(wanted, "campaign.plan")
    insert_spans(clickhouse, project, [root, Span(wanted, "tool.render_video", parent_span_id=root.span_id)])
    simple_trace(clickhouse, project, name="campaign.plan")

    result = list_traces(user, project, span_name="tool.render_video")

    assert [row["trace_id"] for row in result.body["traces"]] == [wanted]


@pytest.mark.parametrize("field", ["trace_id", "root_span_name", "tag"])
def test_query_searches_trace_id_root_name_and_tags_case_insensitively(
    clickhouse: ClickHouse, user: User, project: uuid.UUID, field: str
) -> None:
    wanted = simple_trace(clickhouse, project, name="Research.Competitors", tags='["Launch-Week"]')
    simple_trace(clickhouse, project, name="copy.write", tags='["other"]')
    needle = {"trace_id": wanted[4:14].upper(), "root_span_name": "research.COMP", "tag": "launch-w"}[field]

    result = list_traces(user, project, query=needle)

    assert [row["trace_id"] for row in result.body["traces"]] == [wanted]


def test_query_wildcards_are_plain_text(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    simple_trace(clickhouse, project, name="copy.write")

    assert list_traces(user, project, query="%").body["traces"] == []
    assert list_traces(user, project, query="_").body["traces"] == []


SORT_VALUES = {
    "start_time": lambda row: row["start_time"],
    "duration": lambda row: row["duration_ns"],
    "span_count": lambda row: row["span_count"],
    "error_count": lambda row: row["error_count"],
    "total_tokens": lambda row: row["tokens"]["total_tokens"],
    "total_cost": lambda row: row["total_cost"],
}


@pytest.mark.parametrize("sort_order", ["asc", "desc"])
@pytest.mark.parametrize("order_by", list(SORT_VALUES))
def test_every_allowed_order_sorts_the_rows(
    clickhouse: ClickHouse, user: User, project: uuid.UUID, order_by: str, sort_order: str
) -> None:
    for i in range(4):
        simple_trace(
            clickhouse,
            project,
            start=NOW - timedelta(hours=1 + (i * 7) % 4),
            children=1 + (i * 3) % 4,
            errors=i % 2,
            duration=timedelta(seconds=10 + (i * 5) % 4),
        )

    rows = list_traces(user, project, order_by=order_by, sort_order=sort_order).body["traces"]

    values = [SORT_VALUES[order_by](row) for row in rows]
    assert len(values) == 4
    assert values == sorted(values, reverse=sort_order == "desc")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("order_by", "SpanName"),
        ("order_by", "start_time; DROP TABLE otel_traces"),
        ("sort_order", "up"),
        ("limit", "0"),
        ("limit", "101"),
        ("offset", "-1"),
        ("project_id", "not-a-uuid"),
        ("start_time", "yesterday"),
    ],
)
def test_parameters_outside_their_allowed_values_are_rejected(user: User, project: uuid.UUID, name: str, value: str) -> None:
    result = list_traces(user, project, **{name: value})

    assert (result.status, result.body["error_code"]) == (400, "VALIDATION_ERROR")


def test_offset_pages_through_the_rows(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    ids = [simple_trace(clickhouse, project, start=NOW - timedelta(minutes=10 * i)) for i in range(5)]

    pages = [list_traces(user, project, limit=2, offset=offset).body for offset in (0, 2, 4, 6)]

    assert [row["trace_id"] for page in pages for row in page["traces"]] == ids
    assert pages[3]["traces"] == []
    assert pages[3]["totals"]["traces"] == 5
