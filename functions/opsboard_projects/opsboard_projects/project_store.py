"""Projects in Postgres, only through the migration's functions: they decide membership, roles and plan limits under
the organization's row lock and hide API keys from business users (agentmode.membership maps their refusals)."""

from typing import Any
from uuid import UUID

from psycopg.rows import DictRow

from agentmode.db import Connection
from agentmode.errors import AppError, ErrorCode
from agentmode.membership import database_rules
from opsboard_projects.schemas import Project, ProjectCreate, ProjectOrg, ProjectUpdate

MY_PROJECTS_SQL = "SELECT * FROM agentmode.my_projects(%s)"


def project_fields(row: DictRow) -> dict[str, Any]:
    """A row of agentmode.my_projects as the fields of Project."""
    return {
        "id": row["id"],
        "org_id": row["org_id"],
        "name": row["name"],
        "environment": row["environment"],
        "api_key": row["api_key"],
        "created_at": row["created_at"],
        "org": ProjectOrg(id=row["org_id"], name=row["org_name"], prem_status=row["org_plan"], current_user_role=row["role"]),
    }


def my_projects(conn: Connection) -> list[DictRow]:
    """Every project of the caller's organizations but the demo organization's."""
    return conn.execute(MY_PROJECTS_SQL, (None,)).fetchall()


def my_project(conn: Connection, project_id: UUID) -> Project:
    row = conn.execute(MY_PROJECTS_SQL, (project_id,)).fetchone()
    if row is None:
        raise AppError(ErrorCode.NOT_FOUND, "Project not found.")
    return Project(**project_fields(row))


def create_project(conn: Connection, body: ProjectCreate) -> UUID:
    with database_rules():
        row = conn.execute(
            "SELECT agentmode.create_project(%s, %s, %s) AS id", (body.org_id, body.name, body.environment)
        ).fetchone()
    assert row is not None
    project_id: UUID = row["id"]
    return project_id


def update_project(conn: Connection, project_id: UUID, body: ProjectUpdate) -> None:
    with database_rules():
        conn.execute("SELECT agentmode.update_project(%s, %s, %s)", (project_id, body.name, body.environment))


def delete_project(conn: Connection, project_id: UUID) -> None:
    with database_rules():
        conn.execute("SELECT agentmode.delete_project(%s)", (project_id,))


def regenerate_key(conn: Connection, project_id: UUID) -> None:
    with database_rules():
        conn.execute("SELECT agentmode.regenerate_project_key(%s)", (project_id,))
