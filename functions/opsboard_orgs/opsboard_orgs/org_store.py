"""Reads and writes of organizations, through the database's rule functions (agentmode.membership)."""

from typing import Any
from uuid import UUID

from agentmode.db import Connection
from agentmode.errors import AppError, ErrorCode
from opsboard_orgs.schemas import Member, Org, OrgDetail

MY_ORGS_SQL = "SELECT * FROM agentmode.my_orgs(%s)"


def _org(row: dict[str, Any]) -> Org:
    pro = row["plan"] == "pro"
    return Org(
        id=row["id"],
        name=row["name"],
        prem_status="pro" if pro else "free",
        subscription_id=row["subscription_id"],
        subscription_status=row["subscription_status"],
        subscription_end_date=row["subscription_end_date"],
        subscription_cancel_at_period_end=row["subscription_cancel_at_period_end"],
        current_user_role=row["role"],
        current_member_count=row["member_count"] + row["pending_invite_count"],
        member_count=row["member_count"],
        pending_invite_count=row["pending_invite_count"],
        max_member_count=row["max_member_count"],
        current_project_count=row["project_count"],
        max_project_count=row["max_project_count"],
        paid_member_count=row["member_count"] if pro else 0,
        is_demo=row["is_demo"],
        created_at=row["created_at"],
    )


def list_orgs(conn: Connection) -> list[Org]:
    """The caller's organizations but the demo one; no Stripe call (billing columns are the webhook's)."""
    return [_org(row) for row in conn.execute(MY_ORGS_SQL, (None,)).fetchall()]


def get_org(conn: Connection, org_id: UUID) -> Org:
    row = conn.execute(MY_ORGS_SQL, (org_id,)).fetchone()
    if row is None:
        raise AppError(ErrorCode.NOT_FOUND, "Organization not found.")
    return _org(row)


def org_detail(conn: Connection, org_id: UUID) -> OrgDetail:
    org = get_org(conn, org_id)
    rows = conn.execute("SELECT * FROM agentmode.org_members(%s)", (org_id,)).fetchall()
    paid = org.prem_status == "pro"
    users = [
        Member(user_id=r["user_id"], org_id=org_id, role=r["role"], user_email=r["email"], is_paid=paid, joined_at=r["joined_at"])
        for r in rows
    ]
    return OrgDetail(**org.model_dump(), users=users)


def create_org(conn: Connection, name: str) -> Org:
    row = conn.execute("SELECT agentmode.create_org(%s) AS id", (name,)).fetchone()
    assert row is not None
    return get_org(conn, row["id"])


def rename_org(conn: Connection, org_id: UUID, name: str) -> Org:
    conn.execute("SELECT agentmode.rename_org(%s, %s)", (org_id, name))
    return get_org(conn, org_id)


def delete_org(conn: Connection, org_id: UUID) -> None:
    conn.execute("SELECT agentmode.delete_org(%s)", (org_id,))


def change_role(conn: Connection, org_id: UUID, user_id: UUID, role: str) -> None:
    conn.execute("SELECT agentmode.change_member_role(%s, %s, %s)", (org_id, user_id, role))


def remove_member(conn: Connection, org_id: UUID, user_id: UUID) -> None:
    conn.execute("SELECT agentmode.remove_member(%s, %s)", (org_id, user_id))


def leave_org(conn: Connection, org_id: UUID) -> None:
    conn.execute("SELECT agentmode.leave_org(%s)", (org_id,))
