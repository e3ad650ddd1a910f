"""/opsboard/projects: the projects of the caller's organizations, their API keys by role, plan limits, trace counts.

Every refusal about a project or organization the caller is not in is 404, as for one that does not exist; a member
below the role a change needs gets 403 ROLE_NOT_ALLOWED. Names of the form `test_weakness_*` are the real server's
weaknesses (../shared/notes/opsboard-billing.md, section 3) that this API must not have.
"""

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from agentmode.clickhouse import ClickHouse, Params, Row
from agentmode.db import close_connection, get_connection
from opsboard_projects import trace_counts as trace_counts_module
from tests.conftest import reset_function_state
from tests.factories import User, create_user
from tests.faults.stubs import BlackHole, closed_port
from tests.lambda_invoke import Result, invoke
from tests.log_capture import LogOutput
from tests.trace_data import NOW, Span, insert_spans, new_trace_id, simple_trace

PROJECTS = "/opsboard/projects"
# Each route of one project, with a body where it takes one: what a non-member tries and must learn nothing from.
PROJECT_ROUTES = [
    ("GET", "", None),
    ("PUT", "", {"name": "taken over"}),
    ("POST", "/update", {"name": "taken over"}),
    ("DELETE", "", None),
    ("POST", "/delete", None),
    ("POST", "/regenerate-key", None),
]
ROUTE_IDS = ["get", "put", "post_update", "delete", "post_delete", "regenerate_key"]
UPDATE_ROUTES = [("PUT", ""), ("POST", "/update")]
DELETE_ROUTES = [("DELETE", ""), ("POST", "/delete")]


@pytest.fixture(autouse=True)
def trace_schema(clickhouse: ClickHouse) -> None:
    """The list reads chDB's trace summaries: the schema must be there whichever test runs first."""


@dataclass(frozen=True)
class Team:
    """An organization with its owner and one project (the owner's personal org and its Default Project)."""

    org: uuid.UUID
    project: uuid.UUID
    owner: User


def personal_org(admin: psycopg.Connection[Any], user: User) -> uuid.UUID:
    org: uuid.UUID = admin.execute(
        "SELECT org_id FROM agentmode.user_orgs WHERE user_id = %s AND role = 'owner' ORDER BY created_at LIMIT 1", (user.id,)
    ).fetchone()[0]
    return org


def project_ids(admin: psycopg.Connection[Any], org: uuid.UUID) -> list[uuid.UUID]:
    rows = admin.execute("SELECT id FROM agentmode.projects WHERE org_id = %s ORDER BY created_at, id", (org,)).fetchall()
    return [row[0] for row in rows]


def add_project(admin: psycopg.Connection[Any], org: uuid.UUID, name: str = "extra") -> uuid.UUID:
    project: uuid.UUID = admin.execute(
        "INSERT INTO agentmode.projects (org_id, name) VALUES (%s, %s) RETURNING id", (org, name)
    ).fetchone()[0]
    return project


def join(admin: psycopg.Connection[Any], org: uuid.UUID, role: str) -> User:
    member = create_user(admin)
    admin.execute("INSERT INTO agentmode.user_orgs (user_id, org_id, role) VALUES (%s, %s, %s)", (member.id, org, role))
    return member


def project_row(admin: psycopg.Connection[Any], project: uuid.UUID) -> tuple[Any, ...] | None:
    return admin.execute("SELECT name, environment, api_key FROM agentmode.projects WHERE id = %s", (project,)).fetchone()


def stored_key(admin: psycopg.Connection[Any], project: uuid.UUID) -> str:
    return str(admin.execute("SELECT api_key FROM agentmode.projects WHERE id = %s", (project,)).fetchone()[0])


def free_project_limit(admin: psycopg.Connection[Any]) -> int:
    limit: int = admin.execute("SELECT max_projects FROM agentmode.plan_limits WHERE plan = 'free'").fetchone()[0]
    return limit


def resolve_key(admin: psycopg.Connection[Any], key: str) -> uuid.UUID | None:
    """What an ingestion endpoint would do with an SDK's key: resolve it as the service."""
    with admin.transaction(force_rollback=True):
        admin.execute("SET LOCAL ROLE service_role")
        project: uuid.UUID | None = admin.execute("SELECT agentmode.project_for_api_key(%s)", (key,)).fetchone()[0]
    return project


def list_projects(user: User) -> Result:
    return invoke("GET", PROJECTS, headers=user.auth)


def on_project(user: User, method: str, suffix: str, project: uuid.UUID | str, body: Any = None) -> Result:
    return invoke(method, f"{PROJECTS}/{project}{suffix}", headers=user.auth, json_body=body)


def create(user: User, body: dict[str, Any]) -> Result:
    return invoke("POST", PROJECTS, headers=user.auth, json_body=body)


def listed(result: Result, project: uuid.UUID) -> dict[str, Any]:
    [item] = [item for item in result.body if item["id"] == str(project)]
    return item


def refusal(result: Result) -> tuple[int, str]:
    return result.status, result.body["error_code"]


@pytest.fixture
def team(admin: psycopg.Connection[Any]) -> Team:
    owner = create_user(admin)
    org = personal_org(admin, owner)
    return Team(org, project_ids(admin, org)[0], owner)


@pytest.fixture
def demo_org(admin: psycopg.Connection[Any]) -> Iterator[uuid.UUID]:
    """The seed's "Demo Org" (one at most): users who sign up while it exists get a business_user seat in it."""
    org: uuid.UUID = admin.execute(
        "INSERT INTO agentmode.orgs (name, prem_status, is_demo) VALUES ('Demo Org', 'pro', true) RETURNING id"
    ).fetchone()[0]
    add_project(admin, org, "demo project")
    yield org
    admin.execute("DELETE FROM agentmode.orgs WHERE id = %s", (org,))


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


# Creating


def test_an_admin_creates_a_project_in_development_by_default(admin: psycopg.Connection[Any], team: Team) -> None:
    org_admin = join(admin, team.org, "admin")

    result = create(org_admin, {"name": "  Checkout agent  ", "org_id": str(team.org)})

    assert result.status == 201, result.body
    project = uuid.UUID(result.body["id"])
    assert (result.body["name"], result.body["environment"], result.body["org_id"]) == (
        "Checkout agent",
        "development",
        str(team.org),
    )
    assert project_row(admin, project) == ("Checkout agent", "development", uuid.UUID(result.body["api_key"]))


def test_a_project_is_created_in_the_environment_asked_for(admin: psycopg.Connection[Any], user: User) -> None:
    result = create(user, {"name": "prod", "org_id": str(personal_org(admin, user)), "environment": "production"})

    assert (result.status, result.body["environment"]) == (201, "production")


@pytest.mark.parametrize("role", ["developer", "business_user"])
def test_members_below_admin_cannot_create_a_project(admin: psycopg.Connection[Any], team: Team, role: str) -> None:
    member = join(admin, team.org, role)

    result = create(member, {"name": "not mine to make", "org_id": str(team.org)})

    assert refusal(result) == (403, "ROLE_NOT_ALLOWED")
    assert project_ids(admin, team.org) == [team.project]


def test_creating_in_someone_elses_org_is_404(admin: psycopg.Connection[Any], team: Team, user: User) -> None:
    result = create(user, {"name": "intruder", "org_id": str(team.org)})
    unknown = create(user, {"name": "intruder", "org_id": str(uuid.uuid4())})

    assert refusal(result) == (404, "NOT_FOUND")
    assert (result.body["error"], result.body["details"]) == (unknown.body["error"], unknown.body["details"])
    assert project_ids(admin, team.org) == [team.project]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "   "}, "body.name"),
        ({"name": "x" * 201}, "body.name"),
        ({"name": "nul\x00"}, "body.name"),
        ({"name": "p", "org_id": "not-a-uuid"}, "body.org_id"),
        ({"name": "p", "api_key": str(uuid.uuid4())}, "body.api_key"),
    ],
    ids=["blank_name", "long_name", "nul_in_name", "malformed_org_id", "api_key_of_ones_choosing"],
)
def test_a_bad_create_body_is_refused_by_name(
    admin: psycopg.Connection[Any], user: User, body: dict[str, Any], field: str
) -> None:
    org = personal_org(admin, user)

    result = create(user, {"org_id": str(org), **body})

    assert refusal(result) == (400, "VALIDATION_ERROR")
    assert field in [problem["field"] for problem in result.body["details"]["errors"]]
    assert len(project_ids(admin, org)) == 1


def test_the_free_plan_project_limit_is_403_plan_limit_reached(admin: psycopg.Connection[Any], user: User) -> None:
    org, limit = personal_org(admin, user), free_project_limit(admin)
    created = [create(user, {"name": f"p{i}", "org_id": str(org)}).status for i in range(limit - 1)]

    result = create(user, {"name": "one too many", "org_id": str(org)})

    assert created == [201] * (limit - 1)
    assert refusal(result) == (403, "PLAN_LIMIT_REACHED")
    assert len(project_ids(admin, org)) == limit


def test_a_pro_org_has_no_project_limit(admin: psycopg.Connection[Any], user: User) -> None:
    org = personal_org(admin, user)
    admin.execute("UPDATE agentmode.orgs SET prem_status = 'pro' WHERE id = %s", (org,))
    limit = free_project_limit(admin)

    statuses = [create(user, {"name": f"p{i}", "org_id": str(org)}).status for i in range(limit)]

    assert statuses == [201] * limit
    assert len(project_ids(admin, org)) == limit + 1


def test_concurrent_creations_at_the_limit_never_exceed_it(admin: psycopg.Connection[Any], user: User) -> None:
    org, limit, racers = personal_org(admin, user), free_project_limit(admin), 5
    assert list_projects(user).status == 200  # the handler imported before the threads race to use it
    barrier, results = threading.Barrier(racers), []

    def create_in_own_container(index: int) -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())  # Mangum runs each request on the thread's loop
        get_connection()  # connected before the start, so that the requests overlap
        barrier.wait()
        try:
            results.append(create(user, {"name": f"racer {index}", "org_id": str(org)}))
        finally:
            close_connection()  # the thread's own connection (agentmode.db keeps one per thread)

    threads = [threading.Thread(target=create_in_own_container, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    room = limit - 1  # the Default Project takes one
    assert sorted(result.status for result in results) == [201] * room + [403] * (racers - room)
    assert {refusal(r) for r in results if r.status == 403} == {(403, "PLAN_LIMIT_REACHED")}
    assert len(project_ids(admin, org)) == limit


# Updating


@pytest.mark.parametrize(("method", "suffix"), UPDATE_ROUTES, ids=["put", "post_update"])
def test_an_admin_renames_a_project_and_changes_its_environment(
    admin: psycopg.Connection[Any], team: Team, method: str, suffix: str
) -> None:
    org_admin = join(admin, team.org, "admin")

    result = on_project(org_admin, method, suffix, team.project, {"name": "Renamed", "environment": "staging"})

    assert result.status == 200, result.body
    assert (result.body["name"], result.body["environment"]) == ("Renamed", "staging")
    assert project_row(admin, team.project) == ("Renamed", "staging", uuid.UUID(result.body["api_key"]))


def test_an_update_applies_only_the_fields_given(admin: psycopg.Connection[Any], team: Team) -> None:
    key = stored_key(admin, team.project)

    result = on_project(team.owner, "PUT", "", team.project, {"environment": "production", "name": None})

    assert result.status == 200, result.body
    assert project_row(admin, team.project) == ("Default Project", "production", uuid.UUID(key))


@pytest.mark.parametrize("role", ["developer", "business_user"])
@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [("PUT", "", {"name": "mine now"}), ("POST", "/update", {"name": "mine now"}), ("POST", "/regenerate-key", None)],
    ids=["put", "post_update", "regenerate_key"],
)
def test_members_below_admin_cannot_change_a_project(
    admin: psycopg.Connection[Any], team: Team, role: str, method: str, suffix: str, body: Any
) -> None:
    member, before = join(admin, team.org, role), project_row(admin, team.project)

    result = on_project(member, method, suffix, team.project, body)

    assert refusal(result) == (403, "ROLE_NOT_ALLOWED")
    assert project_row(admin, team.project) == before


@pytest.mark.parametrize("environment", ["prod", "PRODUCTION", "", 1, ["production"]])
def test_weakness_bad_environment_is_400_not_500(admin: psycopg.Connection[Any], team: Team, environment: Any) -> None:
    before = project_row(admin, team.project)

    updated = on_project(team.owner, "POST", "/update", team.project, {"environment": environment})
    created = create(team.owner, {"name": "p", "org_id": str(team.org), "environment": environment})

    assert refusal(updated) == refusal(created) == (400, "VALIDATION_ERROR")
    assert project_row(admin, team.project) == before
    assert project_ids(admin, team.org) == [team.project]


# Deleting


@pytest.mark.parametrize(("method", "suffix"), DELETE_ROUTES, ids=["delete", "post_delete"])
def test_the_owner_deletes_a_project(admin: psycopg.Connection[Any], team: Team, method: str, suffix: str) -> None:
    result = on_project(team.owner, method, suffix, team.project)

    assert result.status == 200, result.body
    assert result.body == {"success": True, "message": "Project deleted."}
    assert project_row(admin, team.project) is None


@pytest.mark.parametrize("role", ["admin", "developer", "business_user"])
def test_only_owners_delete_a_project(admin: psycopg.Connection[Any], team: Team, role: str) -> None:
    member = join(admin, team.org, role)

    result = on_project(member, "DELETE", "", team.project)

    assert refusal(result) == (403, "ROLE_NOT_ALLOWED")
    assert project_row(admin, team.project) is not None


# Regenerating the key


def test_weakness_regenerating_a_key_revokes_the_old_one_at_once(admin: psycopg.Connection[Any], team: Team) -> None:
    old_key = stored_key(admin, team.project)
    assert resolve_key(admin, old_key) == team.project

    result = on_project(team.owner, "POST", "/regenerate-key", team.project)

    assert result.status == 200, result.body
    new_key = result.body["api_key"]
    assert new_key != old_key
    assert resolve_key(admin, old_key) is None
    assert resolve_key(admin, new_key) == team.project


# What non-members and malformed ids get


@pytest.mark.parametrize(("method", "suffix", "body"), PROJECT_ROUTES, ids=ROUTE_IDS)
def test_weakness_non_members_get_404_on_every_project_route(
    admin: psycopg.Connection[Any], team: Team, user: User, method: str, suffix: str, body: Any
) -> None:
    before = project_row(admin, team.project)

    result = on_project(user, method, suffix, team.project, body)
    missing = on_project(user, method, suffix, uuid.uuid4(), body)

    assert refusal(result) == (404, "NOT_FOUND")
    assert (result.body["error"], result.body["details"]) == (missing.body["error"], missing.body["details"])
    assert project_row(admin, team.project) == before


@pytest.mark.parametrize(("method", "suffix", "body"), PROJECT_ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("project_id", ["not-a-uuid", "1", "00000000-0000-0000-0000-00000000000g"])
def test_weakness_malformed_project_id_is_400_not_500(user: User, method: str, suffix: str, body: Any, project_id: str) -> None:
    result = on_project(user, method, suffix, project_id, body)

    assert refusal(result) == (400, "VALIDATION_ERROR")
    assert [problem["field"] for problem in result.body["details"]["errors"]] == ["path.project_id"]


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
    assert (warning["level"], warning["reason"]) == ("WARNING", "connect failed")
    assert clickhouse_password not in logs.text()
