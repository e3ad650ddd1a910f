"""What the /opsboard/projects tests share (tests/functional/test_opsboard_projects_*.py): a team (an owner, their
organization and its project), joining an organization with a role, reading the projects table, calling the routes,
and the refusal a result carries."""

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg

from tests.factories import User, create_user
from tests.lambda_invoke import Result, invoke

PROJECTS = "/opsboard/projects"


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


def list_projects(user: User) -> Result:
    return invoke("GET", PROJECTS, headers=user.auth)


def on_project(user: User, method: str, suffix: str, project: uuid.UUID | str, body: Any = None) -> Result:
    return invoke(method, f"{PROJECTS}/{project}{suffix}", headers=user.auth, json_body=body)


def refusal(result: Result) -> tuple[int, str]:
    return result.status, result.body["error_code"]


def new_team(admin: psycopg.Connection[Any]) -> Team:
    """A new user's personal organization and its Default Project (the `team` fixture of each module)."""
    owner = create_user(admin)
    org = personal_org(admin, owner)
    return Team(org, project_ids(admin, org)[0], owner)
