"""Organization membership: who may see or change an organization or project, decided once, in the database.

The rules (roles, the last owner, plan limits, invites) are SECURITY DEFINER functions of the migration
20261202000100_organizations.sql, so that concurrent requests cannot slip between a check and a write. A refusal
there is raised with the API's error code as its message; `database_rules` turns it into that AppError.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

import psycopg

from agentmode.db import Connection, user_transaction
from agentmode.errors import AppError, ErrorCode
from agentmode.identity import AuthUser

Role = Literal["owner", "admin", "developer", "business_user"]
Plan = Literal["free", "pro"]
ROLES: tuple[Role, ...] = ("owner", "admin", "developer", "business_user")


@contextmanager
def database_rules() -> Iterator[None]:
    """Maps a rule's refusal (SQLSTATE P0001, message = an ErrorCode name, hint = the message) to that AppError."""
    try:
        yield
    except psycopg.errors.RaiseException as exc:
        code = ErrorCode.__members__.get(exc.diag.message_primary or "")
        if code is None:
            raise
        raise AppError(code, exc.diag.message_hint or None) from None


@dataclass(frozen=True)
class ProjectAccess:
    org_id: UUID
    role: Role
    plan: Plan


PROJECT_ACCESS_SQL = "SELECT org_id, role, org_plan FROM agentmode.my_projects(%s)"


def project_access(conn: Connection, project_id: UUID) -> ProjectAccess:
    """The caller's role in the organization of a project, and its plan; NOT_FOUND for a project that is missing or
    not the caller's, alike (existence is not revealed)."""
    row = conn.execute(PROJECT_ACCESS_SQL, (project_id,)).fetchone()
    if row is None:
        raise AppError(ErrorCode.NOT_FOUND, "Project not found.")
    return ProjectAccess(row["org_id"], row["role"], "pro" if row["org_plan"] == "pro" else "free")


def read_project_access(user: AuthUser, project_id: UUID) -> ProjectAccess:
    """project_access in a read-only transaction of its own."""
    with user_transaction(user, rollback=True) as conn:
        return project_access(conn, project_id)
