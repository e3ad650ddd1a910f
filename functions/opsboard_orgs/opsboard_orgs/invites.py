"""Invites: recorded under the organization's lock, committed only with the outcome of their e-mail."""

from uuid import UUID

from agentmode import rate_limits
from agentmode.db import Connection
from agentmode.errors import AppError, ErrorCode
from agentmode.settings import Settings
from opsboard_orgs.invite_mail import send_invite
from opsboard_orgs.schemas import InviteBody, InviteCreated, MyInvite, PendingInvite


def create_invite(conn: Connection, org_id: UUID, body: InviteBody, settings: Settings) -> InviteCreated:
    """In the caller's open transaction: the invite row, then its e-mail. A failed send raises, so the transaction
    rolls back and no invite exists without its e-mail having gone (or the address being registered)."""
    rate_limits.enforce(conn, rate_limits.ORG_INVITE)
    row = conn.execute(
        "SELECT * FROM agentmode.create_invite(%s, %s, %s, %s)", (org_id, body.email, body.role, settings.invite_expiry_days)
    ).fetchone()
    assert row is not None
    registered = bool(row["registered"])
    if not registered:
        outcome = send_invite(body.email, org_id=str(org_id), org_name=row["org_name"], role=body.role, settings=settings)
        registered = outcome == "registered"
        if registered:
            conn.execute("SELECT agentmode.mark_invite_in_app(%s)", (row["invite_id"],))
    # The same words either way: whether an address has an account is not the inviter's to learn.
    return InviteCreated(message=f"Invited {body.email}.", email=body.email, role=body.role, expires_at=row["expires_at"])


def my_invites(conn: Connection) -> list[MyInvite]:
    rows = conn.execute("SELECT * FROM agentmode.my_invites()").fetchall()
    return [
        MyInvite(
            org_id=r["org_id"], org_name=r["org_name"], role=r["role"], inviter_id=r["inviter_id"], invitee_email=r["email"],
            created_at=r["created_at"], expires_at=r["expires_at"],
        )
        for r in rows
    ]  # fmt: skip


def org_invites(conn: Connection, org_id: UUID) -> list[PendingInvite]:
    rows = conn.execute("SELECT * FROM agentmode.org_pending_invites(%s)", (org_id,)).fetchall()
    return [PendingInvite(**r) for r in rows]


def revoke_invite(conn: Connection, org_id: UUID, email: str) -> None:
    conn.execute("SELECT agentmode.revoke_invite(%s, %s)", (org_id, email))


def answer_invite(conn: Connection, org_id: UUID, *, accept: bool) -> str:
    """'accepted', 'declined' or 'expired' (the caller commits that, then refuses the request)."""
    row = conn.execute("SELECT agentmode.answer_invite(%s, %s) AS outcome", (org_id, accept)).fetchone()
    assert row is not None
    return str(row["outcome"])


def refuse_expired(outcome: str) -> None:
    if outcome == "expired":
        raise AppError(ErrorCode.INVITE_EXPIRED)
