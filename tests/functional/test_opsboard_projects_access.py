"""/opsboard/projects/{project_id}: what non-members and malformed ids get on every project route.

Every refusal about a project the caller is not in is 404, as for one that does not exist; a malformed id is 400.
Names of the form `test_weakness_*` are the real server's weaknesses (../shared/notes/opsboard-billing.md, section 3)
that this API must not have.
"""

import uuid
from typing import Any

import psycopg
import pytest

from tests.factories import User
from tests.projects_support import Team, on_project, project_row, refusal

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


# The list reads chDB's trace summaries: the schema (the session's `clickhouse` fixture) must be there whichever test
# runs first.
pytestmark = pytest.mark.usefixtures("clickhouse")


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
