"""/opsboard/projects, changing: creating a project (roles, body checks, the free plan's project limit, also under
concurrent requests), updating, deleting, and regenerating its API key.

A member below the role a change needs gets 403 ROLE_NOT_ALLOWED; an organization the caller is not in is 404, as for
one that does not exist. Names of the form `test_weakness_*` are the real server's weaknesses
(../shared/notes/opsboard-billing.md, section 3) that this API must not have.
"""

import asyncio
import threading
import uuid
from typing import Any

import psycopg
import pytest

from agentmode.db import close_connection, get_connection
from tests.factories import User
from tests.lambda_invoke import Result, invoke
from tests.projects_support import (
    PROJECTS,
    Team,
    join,
    list_projects,
    on_project,
    personal_org,
    project_ids,
    project_row,
    refusal,
    stored_key,
)

UPDATE_ROUTES = [("PUT", ""), ("POST", "/update")]
DELETE_ROUTES = [("DELETE", ""), ("POST", "/delete")]


# The list reads chDB's trace summaries: the schema (the session's `clickhouse` fixture) must be there whichever test
# runs first.
pytestmark = pytest.mark.usefixtures("clickhouse")


def free_project_limit(admin: psycopg.Connection[Any]) -> int:
    limit: int = admin.execute("SELECT max_projects FROM agentmode.plan_limits WHERE plan = 'free'").fetchone()[0]
    return limit


def resolve_key(admin: psycopg.Connection[Any], key: str) -> uuid.UUID | None:
    """What an ingestion endpoint would do with an SDK's key: resolve it as the service."""
    with admin.transaction(force_rollback=True):
        admin.execute("SET LOCAL ROLE service_role")
        project: uuid.UUID | None = admin.execute("SELECT agentmode.project_for_api_key(%s)", (key,)).fetchone()[0]
    return project


def create(user: User, body: dict[str, Any]) -> Result:
    return invoke("POST", PROJECTS, headers=user.auth, json_body=body)


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
