"""The free plan's look-back on every read of a trace: each page of a cursor walk, and the trace detail."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from agentmode.clickhouse import ClickHouse
from agentmode.settings import get_settings
from tests.factories import User
from tests.functional.test_traces_detail_metrics import get_trace
from tests.functional.test_traces_list import list_traces
from tests.trace_data import NOW, Span, create_project, insert_spans, new_trace_id, simple_trace
from traces import cursor as cursors
from traces.time_range import to_ns

# Each test runs on both ClickHouse paths, ids [chdb] and [http] (tests/functional/conftest.py).
pytestmark = pytest.mark.usefixtures("clickhouse_path")

FREE_DAYS = 3


def _set_plan(admin: psycopg.Connection[Any], project: uuid.UUID, plan: str) -> None:
    admin.execute(
        "UPDATE agentmode.orgs SET prem_status = %s WHERE id = (SELECT org_id FROM agentmode.projects WHERE id = %s)",
        (plan, project),
    )


def _ids(body: dict[str, Any]) -> list[str]:
    return [row["trace_id"] for row in body["traces"]]


def _starts_at_the_free_floor(body: dict[str, Any], since: datetime) -> bool:
    """The range starts where the free window began at the time of the request, some time between `since` and now."""
    start = datetime.fromisoformat(body["range"]["start_time"])
    window = timedelta(days=FREE_DAYS)
    return since - window <= start <= datetime.now(UTC) - window


def test_a_validly_signed_cursor_reaching_past_the_free_window_is_clamped_to_it(
    clickhouse: ClickHouse, admin: psycopg.Connection[Any], user: User
) -> None:
    """Even a cursor signed with the service's key (say, a leaked one) cannot widen a free organization's window."""
    project = create_project(admin, user.id, plan="free")
    recent = [simple_trace(clickhouse, project, start=NOW - timedelta(hours=hours)) for hours in (1, 2)]
    simple_trace(clickhouse, project, start=NOW - timedelta(days=20))
    position = cursors.Cursor(
        o="start_time", d="desc", s=to_ns(NOW - timedelta(days=30)), e=to_ns(NOW), k=str(to_ns(NOW)), t="f" * 32
    )
    fingerprint = cursors.filters_fingerprint(str(project), None, None)
    cursor = cursors.sign(position, fingerprint, cursors.signing_key(get_settings()))
    since = datetime.now(UTC)

    result = list_traces(user, project, cursor=cursor)

    assert result.status == 200, result.body
    assert _ids(result.body) == recent
    assert result.body["range"]["plan_limited"] is True
    assert _starts_at_the_free_floor(result.body, since)
    assert result.body["totals"]["traces"] == 2


def test_a_cursor_issued_while_pro_is_clamped_once_the_organization_is_free(
    clickhouse: ClickHouse, admin: psycopg.Connection[Any], user: User
) -> None:
    project = create_project(admin, user.id, plan="pro")
    newest, older = (simple_trace(clickhouse, project, start=NOW - timedelta(hours=hours)) for hours in (1, 2))
    simple_trace(clickhouse, project, start=NOW - timedelta(days=20))
    first = list_traces(user, project, limit=1, start_time=(NOW - timedelta(days=30)).isoformat()).body
    assert (_ids(first), first["range"]["plan_limited"], first["totals"]["traces"]) == ([newest], False, 3)

    _set_plan(admin, project, "free")
    since = datetime.now(UTC)
    second = list_traces(user, project, limit=1, cursor=first["next_cursor"]).body

    assert _ids(second) == [older]
    assert second["next_cursor"] is None
    assert second["range"]["plan_limited"] is True
    assert _starts_at_the_free_floor(second, since)
    assert second["totals"]["traces"] == 2


def test_every_page_of_a_free_walk_stays_in_the_window_and_says_so(
    clickhouse: ClickHouse, admin: psycopg.Connection[Any], user: User
) -> None:
    project = create_project(admin, user.id, plan="free")
    ids = [simple_trace(clickhouse, project, start=NOW - timedelta(hours=hours)) for hours in (1, 2, 3)]
    simple_trace(clickhouse, project, start=NOW - timedelta(days=5))
    since = datetime.now(UTC)

    pages = [list_traces(user, project, limit=1).body]
    while pages[-1]["next_cursor"]:
        pages.append(list_traces(user, project, limit=1, cursor=pages[-1]["next_cursor"]).body)

    assert [trace_id for page in pages for trace_id in _ids(page)] == ids
    assert all(page["range"]["plan_limited"] and _starts_at_the_free_floor(page, since) for page in pages)


def test_a_pro_walk_keeps_the_range_it_asked_for(clickhouse: ClickHouse, admin: psycopg.Connection[Any], user: User) -> None:
    project = create_project(admin, user.id, plan="pro")
    ids = [simple_trace(clickhouse, project, start=NOW - timedelta(days=days)) for days in (1, 10, 20)]
    start = (NOW - timedelta(days=30)).isoformat()

    first = list_traces(user, project, limit=2, start_time=start).body
    second = list_traces(user, project, limit=2, cursor=first["next_cursor"]).body

    assert _ids(first) + _ids(second) == ids
    assert second["range"] == first["range"]
    assert second["range"]["plan_limited"] is False


def test_a_free_organization_cannot_open_a_trace_older_than_its_window(
    clickhouse: ClickHouse, admin: psycopg.Connection[Any], user: User
) -> None:
    project = create_project(admin, user.id, plan="free")
    old = simple_trace(clickhouse, project, start=NOW - timedelta(days=FREE_DAYS, hours=1))
    recent = simple_trace(clickhouse, project, start=NOW - timedelta(days=FREE_DAYS - 1))

    hidden, shown = get_trace(user, project, old), get_trace(user, project, recent)

    assert (hidden.status, hidden.body["error_code"], hidden.body["error"]) == (404, "NOT_FOUND", "Trace not found.")
    assert (shown.status, shown.body["trace_id"]) == (200, recent)


def test_a_trace_that_started_before_the_free_window_stays_hidden_though_it_ran_into_it(
    clickhouse: ClickHouse, admin: psycopg.Connection[Any], user: User
) -> None:
    project = create_project(admin, user.id, plan="free")
    trace_id = new_trace_id()
    root = Span(trace_id, "long.run", start=NOW - timedelta(days=FREE_DAYS, minutes=30), duration=timedelta(hours=1))
    late = Span(trace_id, "late.step", parent_span_id=root.span_id, start=NOW - timedelta(days=FREE_DAYS) + timedelta(minutes=20))
    insert_spans(clickhouse, project, [root, late])

    result = get_trace(user, project, trace_id)

    assert (result.status, result.body["error_code"]) == (404, "NOT_FOUND")
    assert list_traces(user, project).body["traces"] == []


def test_a_pro_organization_opens_a_trace_of_any_age(clickhouse: ClickHouse, admin: psycopg.Connection[Any], user: User) -> None:
    project = create_project(admin, user.id, plan="pro")
    trace_id = simple_trace(clickhouse, project, start=NOW - timedelta(days=200))

    result = get_trace(user, project, trace_id)

    assert (result.status, result.body["trace_id"], result.body["span_count"]) == (200, trace_id, 3)


def test_an_organization_that_went_free_loses_its_old_traces(
    clickhouse: ClickHouse, admin: psycopg.Connection[Any], user: User
) -> None:
    project = create_project(admin, user.id, plan="pro")
    trace_id = simple_trace(clickhouse, project, start=NOW - timedelta(days=20))
    assert get_trace(user, project, trace_id).status == 200

    _set_plan(admin, project, "free")
    result = get_trace(user, project, trace_id)

    assert (result.status, result.body["error_code"]) == (404, "NOT_FOUND")
