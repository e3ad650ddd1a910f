"""Handling one verified event exactly once: claim its id and apply it in one transaction, or neither."""

from typing import Any

from agentmode.db import Connection, service_transaction
from agentmode.observability import logger, metrics
from agentmode.settings import Settings
from stripe_webhook.events import StripeEvent
from stripe_webhook.handlers import HANDLERS, Context, Outcome, ignore
from stripe_webhook.stripe_api import StripeApi


def already_handled(event_id: str) -> bool:
    """A cheap look before any Stripe API call; the claim inside the transaction is what guarantees once.

    In a transaction like every other statement: it gets the statement timeout, and a lost connection (a restart or
    failover) answers 503 SERVICE_UNAVAILABLE instead of escaping as an unhandled error.
    """
    with service_transaction() as conn:
        return conn.execute("SELECT 1 FROM agentmode.stripe_events WHERE id = %s", (event_id,)).fetchone() is not None


def fetch_from_stripe(event: StripeEvent, api: StripeApi) -> dict[str, Any]:
    """Done before the transaction opens, so no database transaction waits on Stripe."""
    if event.type == "checkout.session.completed" and event.object.get("mode") == "subscription":
        return {"session": api.checkout_session(str(event.object["id"]))}
    if event.type == "charge.dispute.created" and event.object.get("charge"):
        charge = event.object["charge"]
        return {"charge": api.charge(str(charge["id"] if isinstance(charge, dict) else charge))}
    return {}


def _claim(conn: Connection, event: StripeEvent) -> bool:
    row = conn.execute(
        "INSERT INTO agentmode.stripe_events (id, type, created, outcome) VALUES (%s, %s, %s, 'processing')"
        " ON CONFLICT (id) DO NOTHING RETURNING id",
        (event.id, event.type, event.created),
    ).fetchone()
    return row is not None


def handle_event(event: StripeEvent, settings: Settings, api_factory: Any) -> Outcome:
    """`api_factory` builds the Stripe API client only for the event types that need it."""
    if already_handled(event.id):
        outcome = Outcome("duplicate")
    else:
        needs_api = event.type in ("checkout.session.completed", "charge.dispute.created")
        fetched = fetch_from_stripe(event, api_factory(settings)) if needs_api else {}
        with service_transaction() as conn:
            if not _claim(conn, event):
                outcome = Outcome("duplicate")
            else:
                outcome = HANDLERS.get(event.type, ignore)(conn, event, Context(settings=settings, fetched=fetched))
                conn.execute(
                    "UPDATE agentmode.stripe_events SET outcome = %s, org_id = %s WHERE id = %s",
                    (outcome.name, outcome.org_id, event.id),
                )
    logger.info(
        "stripe event handled",
        extra={"event_id": event.id, "event_type": event.type, "org_id": str(outcome.org_id), "outcome": outcome.name},
    )
    metrics.add_metric(name=f"StripeEvent_{outcome.name}", unit="Count", value=1)
    return outcome
