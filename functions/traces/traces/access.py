"""Who may read a project's traces: members of the organization that owns it (Postgres, under RLS)."""

from typing import Literal
from uuid import UUID

from agentmode.auth import AuthUser
from agentmode.db import user_transaction
from agentmode.errors import AppError, ErrorCode

Plan = Literal["free", "pro"]

# RLS already hides other organizations' projects; the explicit membership join says the rule where it is used.
PROJECT_PLAN_SQL = """
SELECT agentmode.org_effective_plan(o) AS plan
  FROM agentmode.projects p
  JOIN agentmode.orgs o ON o.id = p.org_id
  JOIN agentmode.user_orgs uo ON uo.org_id = p.org_id AND uo.user_id = (SELECT auth.uid())
 WHERE p.id = %s
"""


def project_plan(user: AuthUser, project_id: UUID) -> Plan:
    """The plan of the project's organization; NOT_FOUND for a project that is missing or not the caller's, alike."""
    with user_transaction(user, rollback=True) as conn:
        row = conn.execute(PROJECT_PLAN_SQL, (project_id,)).fetchone()
    if row is None:
        raise AppError(ErrorCode.NOT_FOUND, "Project not found.")
    return "pro" if row["plan"] == "pro" else "free"
