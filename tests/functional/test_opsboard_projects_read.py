"""/opsboard/projects, reading: the projects of the caller's organizations as listed and read, their API keys by role,
and their trace counts (from ClickHouse, null while it is unavailable).

Names of the form `test_weakness_*` are the real server's weaknesses (../shared/notes/opsboard-billing.md, section 3)
that this API must not have.
"""

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from agentmode.clickhouse import ClickHouse, Params, Row
from opsboard_projects import trace_counts as trace_counts_module
from tests.conftest import reset_function_state
from tests.factories import User, create_user
from tests.faults.stubs import BlackHole, closed_port
from tests.lambda_invoke import Result
from tests.log_capture import LogOutput
from tests.projects_support import (
    Team,
    add_project,
    join,
    list_projects,
    on_project,
    personal_org,
    project_ids,
    refusal,
    stored_key,
)
from tests.trace_data import NOW, Span, insert_spans, new_trace_id, simple_trace

# The list reads chDB's trace summaries: the schema (the session's `clickhouse` fixture) must be there whichever test
# runs first.
pytestmark = pytest.mark.usefixtures("clickhouse")


@pytest.fixture
def demo_org(admin: psycopg.Connection[Any]) -> Iterator[uuid.UUID]:
    """The seed's "Demo Org" (one at most): users who sign up while it exists get a business_user seat in it."""
    org: uuid.UUID = admin.execute(
        "INSERT INTO agentmode.orgs (name, prem_status, is_demo) VALUES ('Demo Org', 'pro', true) RETURNING id"
    ).fetchone()[0]
    add_project(admin, org, "demo project")
    yield org
    admin.execute("DELETE FROM agentmode.orgs WHERE id = %s", (org,))


def listed(result: Result, project: uuid.UUID) -> dict[str, Any]:
    [item] = [item for item in result.body if item["id"] == str(project)]
    return item


# Listing and reading


def test_a_new_user_lists_the_default_project_of_their_personal_org(admin: psycopg.Connection[Any], user: User) -> None:
    org = personal_org(admin, user)
    [project] = project_ids(admin, org)

    result = list_projects(user)

    assert result.status == 200, result.body
    [item] = result.body
    created_at = item.pop("created_at")
    assert item == {
        "id": str(project),
        "org_id": str(org),
        "name": "Default Project",
        "environment": "development",
        "api_key": stored_key(admin, project),
        "org": {"id": str(org), "name": f"{user.id}'s Org", "prem_status": "free", "current_user_role": "owner"},
        "span_count": 0,
        "trace_count": 0,
    }
    assert created_at


def test_a_project_reads_as_it_lists_without_counts(user: User) -> None:
    [item] = list_projects(user).body

    result = on_project(user, "GET", "", item["id"])

    assert result.status == 200, result.body
    assert result.body == {key: value for key, value in item.items() if key not in ("span_count", "trace_count")}


def test_the_demo_org_is_left_out_of_the_list(admin: psycopg.Connection[Any], demo_org: uuid.UUID) -> None:
    newcomer = create_user(admin)
    seat = admin.execute(
        "SELECT role FROM agentmode.user_orgs WHERE user_id = %s AND org_id = %s", (newcomer.id, demo_org)
    ).fetchone()

    result = list_projects(newcomer)

    assert seat == ("business_user",)  # a member: the list leaves the organization out, not the membership
    assert result.status == 200, result.body
    assert {item["org_id"] for item in result.body} == {str(personal_org(admin, newcomer))}


def test_the_plan_shown_is_the_effective_one(admin: psycopg.Connection[Any], user: User) -> None:
    org = personal_org(admin, user)
    admin.execute(
        "UPDATE agentmode.orgs SET prem_status = 'pro', subscription_status = 'past_due',"
        " past_due_since = now() - interval '8 days' WHERE id = %s",
        (org,),
    )

    [item] = list_projects(user).body

    assert item["org"]["prem_status"] == "free"  # past due beyond the 7-day grace period


# API keys by role


def test_weakness_business_user_never_sees_an_api_key(admin: psycopg.Connection[Any], team: Team) -> None:
    business = join(admin, team.org, "business_user")
    key = stored_key(admin, team.project)

    listing = list_projects(business)
    reading = on_project(business, "GET", "", team.project)
    regenerating = on_project(business, "POST", "/regenerate-key", team.project)

    assert listed(listing, team.project)["api_key"] is None
    assert (reading.status, reading.body["api_key"]) == (200, None)
    assert refusal(regenerating) == (403, "ROLE_NOT_ALLOWED")
    assert key not in str(listing.body) + str(reading.body) + str(regenerating.body)
    assert stored_key(admin, team.project) == key


def test_a_developer_sees_the_api_key(admin: psycopg.Connection[Any], team: Team) -> None:
    developer = join(admin, team.org, "developer")

    result = on_project(developer, "GET", "", team.project)

    assert result.body["api_key"] == stored_key(admin, team.project)
    assert result.body["org"]["current_user_role"] == "developer"


# Trace counts


class RecordingClickHouse:
    """The function's own ClickHouse client, with the queries sent through it noted."""

    def __init__(self, inner: ClickHouse, queries: list[str]) -> None:
        self.inner = inner
        self.queries = queries

    def query(self, sql: str, params: Params) -> list[Row]:
        self.queries.append(sql)
        return self.inner.query(sql, params)


def test_counts_for_every_project_come_from_one_clickhouse_query(
    admin: psycopg.Connection[Any],
    clickhouse: ClickHouse,
    clickhouse_path: str,
    user: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    org = personal_org(admin, user)
    [first] = project_ids(admin, org)
    second = add_project(admin, org, "second")
    simple_trace(clickhouse, first, children=2)
    simple_trace(clickhouse, first, start=NOW - timedelta(days=40), children=1)  # all time, not the plan's 3 days
    crossing = new_trace_id()  # one trace in two batches, either side of midnight: still one trace
    midnight = NOW.replace(hour=0, minute=0, second=0) - timedelta(days=1)
    insert_spans(clickhouse, first, [Span(crossing, start=midnight - timedelta(minutes=1))])
    insert_spans(clickhouse, first, [Span(crossing, "late", parent_span_id="00", start=midnight + timedelta(minutes=1))])
    simple_trace(clickhouse, second, children=4)
    simple_trace(clickhouse, uuid.uuid4(), children=9)  # someone else's project
    queries: list[str] = []
    client = trace_counts_module.get_clickhouse
    monkeypatch.setattr(trace_counts_module, "get_clickhouse", lambda: RecordingClickHouse(client(), queries))

    result = list_projects(user)

    assert result.status == 200, result.body
    counts = {item["id"]: (item["span_count"], item["trace_count"]) for item in result.body}
    assert counts == {str(first): (3 + 2 + 2, 3), str(second): (5, 1)}
    assert len(queries) == 1


@pytest.fixture
def clickhouse_password(monkeypatch: pytest.MonkeyPatch) -> str:
    password = f"ch-secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("CLICKHOUSE_PASSWORD", password)
    return password


def point_clickhouse_at(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    """A fresh container whose ClickHouse server is loopback `port` (1 s timeouts, as the template's are short)."""
    for name, value in {
        "CLICKHOUSE_HOST": "127.0.0.1",
        "CLICKHOUSE_PORT": str(port),
        "CLICKHOUSE_SECURE": "false",
        "CLICKHOUSE_CONNECT_TIMEOUT_SECONDS": "1",
        "CLICKHOUSE_QUERY_TIMEOUT_SECONDS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    reset_function_state()


@pytest.fixture
def remote_clickhouse(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield
    monkeypatch.undo()
    reset_function_state()


@pytest.mark.usefixtures("remote_clickhouse")
@pytest.mark.parametrize("fault", ["refused", "hung"])
def test_counts_are_null_while_clickhouse_is_unavailable_and_the_list_is_served(
    admin: psycopg.Connection[Any],
    user: User,
    logs: LogOutput,
    clickhouse_password: str,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
) -> None:
    hole = BlackHole() if fault == "hung" else None
    point_clickhouse_at(monkeypatch, hole.port if hole else closed_port())
    try:
        started = time.perf_counter()
        result = list_projects(user)
        elapsed = time.perf_counter() - started
    finally:
        if hole:
            hole.close()

    assert result.status == 200, result.body
    [item] = result.body
    assert (item["span_count"], item["trace_count"]) == (None, None)
    assert item["id"] == str(project_ids(admin, personal_org(admin, user))[0])
    assert elapsed < 3
    [warning] = logs.lines("trace counts unavailable; projects listed without them")
    reason = "query failed to complete" if fault == "hung" else "connect failed"  # a hung server took the connection
    assert (warning["level"], warning["reason"]) == ("WARNING", reason)
    assert clickhouse_password not in logs.text()
