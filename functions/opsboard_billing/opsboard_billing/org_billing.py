"""The organization's billing state, read and recorded through the migrations' rule functions (…_billing_actions.sql,
…_billing_reads.sql).

begin_billing decides who may (owners and admins; NOT_FOUND for non-members) and locks the organization's row until
the transaction ends: one billing action per organization at a time, Stripe calls included. billing_view is the reads'
check and state: any role the route names, no lock.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from agentmode import rate_limits
from agentmode.db import Connection
from agentmode.membership import Plan, Role

# The quota policy `discount_code` of …_billing_actions.sql: every code tried costs Stripe calls and could enumerate codes.
DISCOUNT_CODE_QUOTA = "discount_code"

# agentmode.subscription_is_live()'s statuses, for a subscription read from Stripe (a test keeps the two equal).
LIVE_SUBSCRIPTION_STATUSES = frozenset({"active", "trialing", "past_due", "unpaid", "incomplete"})


@dataclass(frozen=True)
class BillingState:
    org_id: UUID
    name: str
    subscription_id: str | None
    subscription_status: str | None
    cancel_at_period_end: bool
    customer_id: str | None
    checkout_session_id: str | None
    checkout_session_expires_at: datetime | None
    checkout_generation: int
    member_count: int
    subscribed: bool = field(metadata={"doc": "a subscription Stripe still bills (agentmode.subscription_is_live)"})

    @property
    def ever_subscribed(self) -> bool:
        """The webhook wrote a subscription for this organization at some point (a deletion leaves `canceled`)."""
        return self.subscription_id is not None or self.subscription_status is not None

    def open_checkout(self, now: datetime) -> str | None:
        """The recorded Checkout Session, unless it has expired by its own clock."""
        expires = self.checkout_session_expires_at
        return self.checkout_session_id if expires is not None and expires > now else None


def begin_billing(conn: Connection, org_id: UUID) -> BillingState:
    row = conn.execute("SELECT * FROM agentmode.begin_billing(%s)", (org_id,)).fetchone()
    assert row is not None
    return BillingState(
        org_id=org_id,
        name=row["name"],
        subscription_id=row["subscription_id"],
        subscription_status=row["subscription_status"],
        cancel_at_period_end=bool(row["subscription_cancel_at_period_end"]),
        customer_id=row["stripe_customer_id"],
        checkout_session_id=row["checkout_session_id"],
        checkout_session_expires_at=row["checkout_session_expires_at"],
        checkout_generation=int(row["checkout_generation"]),
        member_count=int(row["member_count"]),
        subscribed=bool(row["subscription_live"]),
    )


def take_discount_quota(conn: Connection, org_id: UUID) -> BillingState:
    """The caller's right to bill the organization, then one use of their discount-code quota (429 when over)."""
    state = begin_billing(conn, org_id)
    rate_limits.enforce(conn, DISCOUNT_CODE_QUOTA)
    return state


def save_checkout(conn: Connection, org_id: UUID, customer_id: str, session_id: str, expires_at: int) -> None:
    conn.execute(
        "SELECT agentmode.save_checkout(%s, %s, %s, %s)",
        (org_id, customer_id, session_id, datetime.fromtimestamp(expires_at, UTC)),
    )


def next_billing_action(conn: Connection, org_id: UUID) -> int:
    row = conn.execute("SELECT agentmode.next_billing_action(%s) AS seq", (org_id,)).fetchone()
    assert row is not None
    return int(row["seq"])


def action_key(conn: Connection, org_id: UUID, action: str, subject: str, request_key: str | None) -> str:
    """An idempotency key that says which request this is, never when it was sent: the client's own Idempotency-Key
    (a retry replays Stripe's first answer), else the organization's next action number, committed with the change,
    so a request that failed at Stripe is retried with the same key and the next request gets a new one."""
    if request_key is not None:
        return f"{action}-{org_id}-{request_key}"
    return f"{action}-{subject}-{next_billing_action(conn, org_id)}"


@dataclass(frozen=True)
class BillingView:
    """What the webhook and the membership changes keep for the organization: the reads answer from it alone."""

    plan: Plan
    subscription_id: str | None
    subscription_status: str | None
    live: bool
    period_end: int | None
    cancel_at_period_end: bool
    member_count: int
    seats: int | None
    seats_pending: bool


def billing_view(conn: Connection, org_id: UUID, minimum: Role) -> BillingView:
    row = conn.execute("SELECT * FROM agentmode.billing_view(%s, %s)", (org_id, minimum)).fetchone()
    assert row is not None
    return BillingView(
        plan="pro" if row["plan"] == "pro" else "free",
        subscription_id=row["subscription_id"],
        subscription_status=row["subscription_status"],
        live=bool(row["subscription_live"]),
        period_end=row["subscription_end_date"],
        cancel_at_period_end=bool(row["subscription_cancel_at_period_end"]),
        member_count=int(row["member_count"]),
        seats=row["seats"],
        seats_pending=bool(row["seats_pending"]),
    )


def resync_seats(conn: Connection, org_id: UUID) -> int:
    """The live subscription's seats recorded again as the member count, for seat sync to send after the commit."""
    row = conn.execute("SELECT agentmode.resync_seats(%s) AS seats", (org_id,)).fetchone()
    assert row is not None
    return int(row["seats"])
