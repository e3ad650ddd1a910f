"""What each Stripe event type does, one small function each (seed 000's four types; others are acknowledged)."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from agentmode.db import Connection, jsonb
from agentmode.errors import AppError, ErrorCode
from agentmode.observability import logger
from agentmode.settings import Settings
from stripe_webhook import billing
from stripe_webhook.events import StripeEvent


@dataclass(frozen=True)
class Outcome:
    name: str
    org_id: UUID | None = None


@dataclass(frozen=True)
class Context:
    """What the handlers need from outside the transaction: settings, and what was fetched from Stripe's API."""

    settings: Settings
    fetched: dict[str, Any]


def _uuid(value: Any) -> UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _metadata_org(obj: dict[str, Any]) -> UUID | None:
    return _uuid((obj.get("metadata") or {}).get("org_id"))


def park(conn: Connection, event: StripeEvent, subscription_id: str | None, org_id: UUID | None) -> Outcome:
    conn.execute(
        "INSERT INTO agentmode.stripe_parked_events (event_id, type, created, subscription_id, org_id, payload)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (event.id, event.type, event.created, subscription_id, org_id, jsonb(event.object)),
    )
    logger.info(
        "stripe event parked until its organization is known", extra={"event_id": event.id, "subscription_id": subscription_id}
    )
    return Outcome("parked", org_id)


def on_subscription_change(conn: Connection, event: StripeEvent, context: Context) -> Outcome:
    """customer.subscription.updated / .deleted: status mapping, period end and cancel flag, in event order."""
    subscription = event.object
    subscription_id = billing.state_of(subscription).subscription_id
    if subscription_id is None:
        return Outcome("ignored_malformed")
    billing.lock_subscription(conn, subscription_id)
    org = billing.org_for_subscription(conn, subscription, _metadata_org(subscription))
    if org is None:
        return park(conn, event, subscription_id, _metadata_org(subscription))
    if org["subscription_id"] not in (None, subscription_id):
        return Outcome("ignored_other_subscription", org["id"])
    deleted = event.type == "customer.subscription.deleted"
    state = billing.CANCELED if deleted else billing.state_of(subscription)
    applied = billing.apply_state(conn, org["id"], state, event.created, billing.RANK[event.type])
    _after_state_event(conn, org["id"], event, state.status, billing.state_of(subscription).customer_id)
    return Outcome("applied" if applied else "stale", org["id"])


def _after_state_event(conn: Connection, org_id: UUID, event: StripeEvent, status: str, customer_id: str | None) -> None:
    """Bookkeeping every resolved subscription-state event does, applied or stale."""
    billing.record_status(conn, org_id, event.id, event.created, status)
    billing.refresh_past_due_since(conn, org_id)
    billing.link_disputes(conn, org_id, customer_id)


def _replay_parked(conn: Connection, subscription_id: str, context: Context) -> None:
    parked = conn.execute(
        "SELECT event_id, type, created, payload FROM agentmode.stripe_parked_events"
        " WHERE subscription_id = %s AND applied_at IS NULL ORDER BY created, event_id",
        (subscription_id,),
    ).fetchall()
    for row in parked:
        event = StripeEvent(id=row["event_id"], type=row["type"], created=row["created"], object=row["payload"])
        outcome = on_subscription_change(conn, event, context)
        conn.execute(
            "UPDATE agentmode.stripe_parked_events SET applied_at = now(), outcome = %s WHERE event_id = %s",
            (outcome.name, event.id),
        )


def _pro_price(settings: Settings, event: StripeEvent) -> str:
    """STRIPE_SUBSCRIPTION_PRICE_ID; deployed without it, a checkout is answered 503 (Stripe retries it for days)
    rather than ignored: a paid checkout must not be dropped for a missing setting."""
    if not settings.stripe_subscription_price_id and settings.is_deployed():
        logger.error(
            "STRIPE_SUBSCRIPTION_PRICE_ID is not set: checkout not applied, Stripe will retry",
            extra={"setting": "STRIPE_SUBSCRIPTION_PRICE_ID", "event_id": event.id},
        )
        raise AppError(ErrorCode.SERVICE_UNAVAILABLE, details={"service": "stripe_webhook", "reason": "not configured"})
    return settings.stripe_subscription_price_id


def on_checkout_completed(conn: Connection, event: StripeEvent, context: Context) -> Outcome:
    """checkout.session.completed: the org named by client_reference_id (or metadata.org_id) becomes pro."""
    session = event.object
    if session.get("mode") != "subscription":
        return Outcome("ignored_not_subscription")
    org_id = _uuid(session.get("client_reference_id")) or _metadata_org(session)
    if org_id is None:
        logger.warning("checkout without an organization", extra={"event_id": event.id})
        return Outcome("ignored_no_org")
    details = context.fetched["session"]
    prices = {str((item.get("price") or {}).get("id")) for item in (details.get("line_items") or {}).get("data") or []}
    if _pro_price(context.settings, event) not in prices:
        logger.warning("checkout for another price", extra={"event_id": event.id, "org_id": str(org_id)})
        return Outcome("ignored_price", org_id)
    if session.get("payment_status") not in ("paid", "no_payment_required"):
        return Outcome("ignored_unpaid", org_id)
    subscription = details.get("subscription")
    if not isinstance(subscription, dict):
        return Outcome("ignored_malformed", org_id)
    state = billing.state_of(subscription)
    assert state.subscription_id is not None
    billing.lock_subscription(conn, state.subscription_id)
    if not billing.org_exists(conn, org_id):
        return park(conn, event, state.subscription_id, org_id)
    applied = billing.apply_state(conn, org_id, state, event.created, billing.RANK[event.type])
    _after_state_event(conn, org_id, event, state.status, state.customer_id)
    _replay_parked(conn, state.subscription_id, context)
    return Outcome("applied" if applied else "stale", org_id)


def on_dispute_created(conn: Connection, event: StripeEvent, context: Context) -> Outcome:
    """charge.dispute.created: record the dispute and flag the customer's organization for review (no downgrade)."""
    dispute = event.object
    customer = billing.id_of(context.fetched.get("charge", {}).get("customer"))
    org = (
        conn.execute("SELECT id FROM agentmode.orgs WHERE stripe_customer_id = %s", (customer,)).fetchone() if customer else None
    )
    org_id = org["id"] if org else None
    conn.execute(
        "INSERT INTO agentmode.billing_disputes"
        " (id, org_id, customer_id, charge_id, amount, currency, reason, status, created, event_id)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
        (
            dispute["id"], org_id, customer, billing.id_of(dispute.get("charge")), dispute.get("amount"), dispute.get("currency"),
            dispute.get("reason"), dispute.get("status"), event.created, event.id,
        ),
    )  # fmt: skip
    if org_id is not None:
        conn.execute(
            "UPDATE agentmode.orgs SET billing_flagged = true, billing_flag_reason = %s, updated_at = now() WHERE id = %s",
            (f"dispute {dispute['id']}", org_id),
        )
    logger.warning(
        "payment disputed",
        extra={"event_id": event.id, "dispute_id": dispute["id"], "org_id": str(org_id), "amount": dispute.get("amount")},
    )
    return Outcome("recorded" if org_id else "recorded_unlinked", org_id)


def ignore(conn: Connection, event: StripeEvent, context: Context) -> Outcome:
    return Outcome("ignored_type")


HANDLERS: dict[str, Callable[[Connection, StripeEvent, Context], Outcome]] = {
    "checkout.session.completed": on_checkout_completed,
    "customer.subscription.updated": on_subscription_change,
    "customer.subscription.deleted": on_subscription_change,
    "charge.dispute.created": on_dispute_created,
}
