"""An organization's billing state as Stripe's events move it, applied in event order whatever the delivery order."""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from agentmode.db import Connection

PRO_STATUSES = frozenset({"active", "trialing"})
# Still pro, for agentmode.org_effective_plan's grace period, while Stripe retries the payment.
GRACE_STATUSES = frozenset({"past_due", "unpaid"})

# Events of one second are ordered by type: a checkout precedes the subscription's updates, a deletion ends them.
RANK = {"checkout.session.completed": 1, "customer.subscription.updated": 2, "customer.subscription.deleted": 3}


@dataclass(frozen=True)
class SubscriptionState:
    subscription_id: str | None
    customer_id: str | None
    status: str
    cancel_at_period_end: bool
    period_end: int | None

    @property
    def prem_status(self) -> str:
        return "pro" if self.status in PRO_STATUSES | GRACE_STATUSES else "free"


def _period_end(subscription: dict[str, Any]) -> int | None:
    """Since API version 2025-03-31 the period lives on each subscription item; older versions kept it on the subscription."""
    items = (subscription.get("items") or {}).get("data") or []
    ends = [int(item["current_period_end"]) for item in items if item.get("current_period_end")]
    if ends:
        return max(ends)
    legacy = subscription.get("current_period_end")
    return int(legacy) if legacy else None


def id_of(value: Any) -> str | None:
    """An expandable field: an id string, or the expanded object."""
    if isinstance(value, dict):
        return str(value["id"]) if value.get("id") else None
    return str(value) if value else None


def state_of(subscription: dict[str, Any]) -> SubscriptionState:
    return SubscriptionState(
        subscription_id=id_of(subscription),
        customer_id=id_of(subscription.get("customer")),
        status=str(subscription.get("status") or "incomplete"),
        cancel_at_period_end=bool(subscription.get("cancel_at_period_end")),
        period_end=_period_end(subscription),
    )


CANCELED = SubscriptionState(
    subscription_id=None, customer_id=None, status="canceled", cancel_at_period_end=False, period_end=None
)


def apply_state(conn: Connection, org_id: UUID, state: SubscriptionState, created: int, rank: int) -> bool:
    """Writes `state` unless the org already holds the state of a newer event. True when written."""
    row = conn.execute(
        "UPDATE agentmode.orgs SET prem_status = %(prem)s, subscription_id = %(sub)s,"
        " stripe_customer_id = coalesce(%(customer)s, stripe_customer_id), subscription_status = %(status)s,"
        " subscription_end_date = %(end)s, subscription_cancel_at_period_end = %(cancel)s,"
        " billing_state_at = %(created)s, billing_state_rank = %(rank)s, updated_at = now()"
        " WHERE id = %(org)s AND (billing_state_at IS NULL OR (billing_state_at, billing_state_rank) < (%(created)s, %(rank)s))"
        " RETURNING id",
        {
            "prem": state.prem_status,
            "sub": state.subscription_id,
            "customer": state.customer_id,
            "status": state.status,
            "end": state.period_end,
            "cancel": state.cancel_at_period_end,
            "created": created,
            "rank": rank,
            "org": org_id,
        },
    ).fetchone()
    return row is not None


def record_status(conn: Connection, org_id: UUID, event_id: str, created: int, status: str) -> None:
    """Every status an event reported for the org, whether it was applied or was stale: the input of past_due_since."""
    conn.execute(
        "INSERT INTO agentmode.subscription_status_history (event_id, org_id, created, status) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (event_id) DO NOTHING",
        (event_id, org_id, created, status),
    )


def refresh_past_due_since(conn: Connection, org_id: UUID) -> None:
    """When the current past-due streak began: the first past_due/unpaid status after the last other status.

    Derived from the whole history, so a late event that ended an earlier streak still counts (a stale `active` that
    arrives after a later `past_due` must not make the grace period start at the earlier streak).
    """
    conn.execute(
        "UPDATE agentmode.orgs o SET past_due_since = CASE WHEN o.subscription_status IN ('past_due', 'unpaid') THEN ("
        "  SELECT to_timestamp(min(h.created)) FROM agentmode.subscription_status_history h"
        "   WHERE h.org_id = o.id AND h.status IN ('past_due', 'unpaid') AND h.created > coalesce(("
        "     SELECT max(g.created) FROM agentmode.subscription_status_history g"
        "      WHERE g.org_id = o.id AND g.status NOT IN ('past_due', 'unpaid')), 0)"
        ") END WHERE o.id = %s",
        (org_id,),
    )


def link_disputes(conn: Connection, org_id: UUID, customer_id: str | None) -> None:
    """Disputes that arrived before their customer was known flag the organization once it is."""
    if customer_id is None:
        return
    linked = conn.execute(
        "UPDATE agentmode.billing_disputes SET org_id = %s WHERE customer_id = %s AND org_id IS NULL RETURNING id",
        (org_id, customer_id),
    ).fetchall()
    if linked:
        conn.execute(
            "UPDATE agentmode.orgs SET billing_flagged = true, billing_flag_reason = %s, updated_at = now() WHERE id = %s",
            (f"dispute {linked[-1]['id']}", org_id),
        )


def lock_subscription(conn: Connection, subscription_id: str) -> None:
    """Serialises a subscription's events with its checkout, so an event is either parked before the checkout looks
    for parked events, or finds the organization the checkout linked."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('stripe-subscription:' || %s, 0))", (subscription_id,))


def org_exists(conn: Connection, org_id: UUID) -> bool:
    return conn.execute("SELECT 1 FROM agentmode.orgs WHERE id = %s", (org_id,)).fetchone() is not None


def org_for_subscription(conn: Connection, subscription: dict[str, Any], metadata_org: UUID | None) -> dict[str, Any] | None:
    """The org this subscription belongs to: the one it is linked to, else the one its metadata names, else its customer's."""
    row = conn.execute(
        "SELECT id, subscription_id FROM agentmode.orgs WHERE subscription_id = %s"
        " UNION ALL SELECT id, subscription_id FROM agentmode.orgs WHERE id = %s"
        " UNION ALL (SELECT id, subscription_id FROM agentmode.orgs WHERE stripe_customer_id = %s ORDER BY created_at LIMIT 1)"
        " LIMIT 1",
        (id_of(subscription), metadata_org, id_of(subscription.get("customer"))),
    ).fetchone()
    return row
