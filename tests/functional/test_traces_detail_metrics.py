"""GET /v4/traces/{trace_id} and GET /v4/meterics/project (and /v4/metrics/project), on chDB (in-process and over HTTP)."""

import uuid
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from agentmode.clickhouse import ClickHouse
from local.trace_generator import TraceBatch, generate
from tests.factories import User
from tests.lambda_invoke import Result, invoke
from tests.trace_data import NOW, Span, create_project, insert_spans, llm_attributes, new_trace_id, simple_trace

# Each test runs on both ClickHouse paths, ids [chdb] and [http] (tests/functional/conftest.py).
pytestmark = pytest.mark.usefixtures("clickhouse_path")


@pytest.fixture
def project(clickhouse: ClickHouse, admin: psycopg.Connection[Any], user: User) -> uuid.UUID:
    """A project of the user's organization; ClickHouse has its schema by then."""
    return create_project(admin, user.id)


def get_trace(user: User, project: uuid.UUID, trace_id: str) -> Result:
    return invoke("GET", f"/v4/traces/{trace_id}", headers=user.auth, query={"project_id": str(project)})


def test_a_trace_comes_with_every_span_linked_to_its_parent(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    trace_id = new_trace_id()
    start = NOW - timedelta(hours=1)
    root = Span(trace_id, "agent.run", start=start, duration=timedelta(seconds=20))
    step = Span(trace_id, "agent.writer", parent_span_id=root.span_id, start=start + timedelta(seconds=1))
    failed = Span(
        trace_id,
        "tool.render_video",
        parent_span_id=step.span_id,
        start=start + timedelta(seconds=2),
        status_code="STATUS_CODE_ERROR",
        status_message="TimeoutError",
        events=[(start + timedelta(seconds=3), "exception", {"exception.type": "TimeoutError"})],
    )
    insert_spans(clickhouse, project, [failed, root, step])

    result = get_trace(user, project, trace_id)

    assert result.status == 200, result.body
    body = result.body
    assert (body["trace_id"], body["span_count"], body["truncated"]) == (trace_id, 3, False)
    assert body["root_span_ids"] == [root.span_id]
    assert [(s["span_id"], s["parent_span_id"], s["depth"]) for s in body["spans"]] == [
        (root.span_id, None, 0),
        (step.span_id, root.span_id, 1),
        (failed.span_id, step.span_id, 2),
    ]
    leaf = body["spans"][2]
    assert (leaf["is_error"], leaf["status_message"]) == (True, "TimeoutError")
    assert leaf["events"] == [
        {"time": leaf["events"][0]["time"], "name": "exception", "attributes": {"exception.type": "TimeoutError"}}
    ]
    assert leaf["resource_attributes"]["agentops.project.id"] == str(project)


def test_a_span_whose_parent_was_never_exported_is_a_root(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    trace_id = new_trace_id()
    insert_spans(clickhouse, project, [Span(trace_id, "orphan", parent_span_id="ffffffffffffffff")])

    body = get_trace(user, project, trace_id).body

    assert body["spans"][0]["parent_span_id"] is None
    assert body["root_span_ids"] == [body["spans"][0]["span_id"]]


def test_an_unknown_trace_is_not_found(user: User, project: uuid.UUID) -> None:
    result = get_trace(user, project, new_trace_id())

    assert (result.status, result.body["error_code"]) == (404, "NOT_FOUND")


def test_an_uppercase_trace_id_finds_the_trace(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    trace_id = simple_trace(clickhouse, project)

    assert get_trace(user, project, trace_id.upper()).status == 200


def test_a_trace_with_5000_spans_comes_whole(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    generate(clickhouse, TraceBatch(str(project), 1, 5000, NOW - timedelta(hours=3), NOW - timedelta(hours=2)))
    [row] = invoke("GET", "/v4/traces", headers=user.auth, query={"project_id": str(project)}).body["traces"]

    body = get_trace(user, project, row["trace_id"]).body

    assert (body["span_count"], len(body["spans"]), body["truncated"]) == (5000, 5000, False)
    assert len(body["root_span_ids"]) == 1
    assert {span["depth"] for span in body["spans"]} == {0, 1, 2}
    assert row["span_count"] == 5000


def test_a_trace_beyond_the_span_cap_is_marked_truncated(
    clickhouse: ClickHouse, user: User, project: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import reset_function_state

    trace_id = simple_trace(clickhouse, project, children=5)
    monkeypatch.setenv("TRACE_DETAIL_MAX_SPANS", "4")
    reset_function_state()
    try:
        body = get_trace(user, project, trace_id).body
    finally:
        monkeypatch.undo()
        reset_function_state()

    assert (body["span_count"], len(body["spans"]), body["truncated"]) == (6, 4, True)


def get_metrics(user: User, project: uuid.UUID, path: str = "/v4/meterics/project", **query: Any) -> Result:
    return invoke("GET", path, headers=user.auth, query={"project_id": str(project), **query})


def test_metrics_add_up_spans_tokens_cost_and_traces(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    trace_id = new_trace_id()
    start = NOW - timedelta(days=1)
    root = Span(trace_id, "agent.run", start=start, duration=timedelta(seconds=40))
    spans = [
        root,
        # OpenTelemetry naming, priced from the table: 1000 in (400 cached) + 500 out of gpt-4o.
        Span(
            trace_id,
            "llm",
            parent_span_id=root.span_id,
            start=start + timedelta(seconds=1),
            attributes={
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": "1000",
                "gen_ai.usage.output_tokens": "500",
                "gen_ai.usage.cache_read.input_tokens": "400",
                "gen_ai.usage.reasoning_tokens": "100",
            },
        ),
        # AgentOps naming with the SDK's own cost, which wins over the table.
        Span(
            trace_id,
            "llm",
            parent_span_id=root.span_id,
            start=start + timedelta(seconds=2),
            status_code="Error",
            attributes=llm_attributes("claude-sonnet-4-5", 2000, 100, **{"gen_ai.usage.total_cost": "0.25"}),
        ),
        # A model without a price costs nothing rather than a guess.
        Span(
            trace_id,
            "llm",
            parent_span_id=root.span_id,
            start=start + timedelta(seconds=3),
            attributes=llm_attributes("in-house-model", 10, 10),
        ),
    ]
    insert_spans(clickhouse, project, spans)
    simple_trace(clickhouse, project, start=NOW - timedelta(hours=1), duration=timedelta(seconds=20))

    result = get_metrics(user, project)

    assert result.status == 200, result.body
    body = result.body
    gpt4o_cost = (600 * 2.50 + 400 * 1.25 + 500 * 10.00) / 1_000_000
    mini_cost = 2 * (100 * 0.15 + 50 * 0.60) / 1_000_000
    assert (body["span_count"], body["trace_count"]) == (7, 2)
    assert body["tokens"] == {
        "prompt_tokens": 1000 + 2000 + 10 + 200,
        "completion_tokens": 500 + 100 + 10 + 100,
        "cache_read_tokens": 400,
        "reasoning_tokens": 100,
        "total_tokens": 1500 + 2100 + 20 + 300,
    }
    assert body["total_cost"] == pytest.approx(gpt4o_cost + 0.25 + mini_cost)
    assert body["spans"] == {"success": 6, "error": 1}
    assert body["traces"] == {"success": 1, "error": 1}
    assert (body["duration"]["min"], body["duration"]["max"]) == (20_000_000_000, 40_000_000_000)
    assert [model["model"] for model in body["top_models"]] == ["claude-sonnet-4-5", "gpt-4o", "gpt-4o-mini", "in-house-model"]
    assert sum(day["traces"] for day in body["daily"]) == 2
    assert sum(day["spans"] for day in body["daily"]) == 7
    assert sum(day["total_cost"] for day in body["daily"]) == pytest.approx(body["total_cost"])


def test_metrics_answer_on_both_spellings_of_the_path(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    simple_trace(clickhouse, project)
    window = {"start_time": (NOW - timedelta(days=1)).isoformat(), "end_time": NOW.isoformat()}

    assert get_metrics(user, project, **window).body == get_metrics(user, project, "/v4/metrics/project", **window).body


def test_metrics_of_an_empty_range_are_zero(user: User, project: uuid.UUID) -> None:
    body = get_metrics(user, project).body

    assert (body["span_count"], body["trace_count"], body["total_cost"], body["daily"], body["top_models"]) == (0, 0, 0.0, [], [])
    assert body["duration"] == {"min": 0, "avg": 0.0, "p50": 0, "p95": 0, "max": 0}


def test_metrics_respect_the_time_range(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    simple_trace(clickhouse, project, start=NOW - timedelta(days=20))
    simple_trace(clickhouse, project, start=NOW - timedelta(days=2))

    body = get_metrics(
        user, project, start_time=(NOW - timedelta(days=30)).isoformat(), end_time=(NOW - timedelta(days=10)).isoformat()
    ).body

    assert (body["trace_count"], body["span_count"]) == (1, 3)


def test_metrics_are_exact_at_ranges_that_cut_through_hours(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    """Whole hours come from the hourly rollup, the cut hours from the spans: a span a second outside the range is out."""
    start = (NOW - timedelta(hours=5)).replace(minute=20, second=0)
    end = start + timedelta(hours=3, minutes=15)
    trace_id = new_trace_id()
    inside = [start, start + timedelta(minutes=39), start + timedelta(hours=1), end - timedelta(seconds=1)]
    outside = [start - timedelta(seconds=1), end, end + timedelta(minutes=5)]
    insert_spans(
        clickhouse,
        project,
        [
            Span(trace_id, f"llm-{i}", start=moment, attributes=llm_attributes("gpt-4o", 1000, 100))
            for i, moment in enumerate(inside + outside)
        ],
    )

    body = get_metrics(user, project, start_time=start.isoformat(), end_time=end.isoformat()).body

    assert body["span_count"] == len(inside)
    assert body["tokens"]["total_tokens"] == 1100 * len(inside)
    assert body["top_models"] == [
        {
            "model": "gpt-4o",
            "spans": len(inside),
            "total_tokens": 1100 * len(inside),
            "total_cost": pytest.approx(len(inside) * 0.0035),
        }
    ]


def test_metrics_within_one_hour_come_from_the_spans_alone(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    start = (NOW - timedelta(hours=3)).replace(minute=10, second=0)
    simple_trace(clickhouse, project, start=start + timedelta(minutes=5), children=3)
    simple_trace(clickhouse, project, start=start + timedelta(minutes=40), children=3)

    body = get_metrics(user, project, start_time=start.isoformat(), end_time=(start + timedelta(minutes=20)).isoformat()).body

    assert (body["span_count"], body["trace_count"]) == (4, 1)
