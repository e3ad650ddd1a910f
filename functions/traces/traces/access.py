"""Who may read a project's traces: members of the organization that owns it, as agentmode.membership decides."""

from uuid import UUID

from agentmode.identity import AuthUser
from agentmode.membership import Plan, read_project_access


def project_plan(user: AuthUser, project_id: UUID) -> Plan:
    """The plan of the project's organization; NOT_FOUND for a project that is missing or not the caller's, alike."""
    return read_project_access(user, project_id).plan
