"""Seats of a paying organization follow its members (seed 000's per-seat billing), without Stripe/DB drift.

The database records the wanted quantity in the same transaction as the membership change (trigger record_seats,
bumping seat_version). Here, after that commit, the quantity is sent to Stripe with the version in the idempotency
key, then marked synced for that version only. A Stripe that is down leaves it pending: the request that changed
the members still succeeds, the failure is logged and counted (metric SeatSyncFailed), and the seat_sync function
sends whatever is pending on its schedule, until it lands. Never Stripe before the commit, never a lost change.
"""

import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from agentmode.db import service_transaction
from agentmode.errors import AppError
from agentmode.observability import logger, metrics
from agentmode.settings import Settings, get_settings


@dataclass(frozen=True)
class SyncReport:
    synced: int
    failed: int


def _send(row: dict[str, Any], settings: Settings, retries: int) -> None:
    import stripe

    from agentmode.stripe_client import stripe_client, stripe_unavailable

    client = stripe_client(settings, max_network_retries=retries)
    subscription_id = str(row["subscription_id"])
    try:
        subscription = client.v1.subscriptions.retrieve(subscription_id)
        items = subscription["items"]["data"]
        item = next((i for i in items if i["price"]["id"] == settings.stripe_subscription_price_id), items[0])
        client.v1.subscriptions.update(
            subscription_id,
            {"items": [{"id": item["id"], "quantity": int(row["seats"])}], "proration_behavior": "create_prorations"},
            {"idempotency_key": f"seats-{subscription_id}-{row['version']}"},
        )
    except stripe.StripeError as exc:
        logger.warning("seat sync: stripe call failed", extra={"error_type": type(exc).__name__})
        raise stripe_unavailable("stripe api error") from None


def sync_seats(org_id: UUID | None = None, *, retries: int = 2, deadline: float | None = None) -> SyncReport:
    """Sends the pending seat counts (of one organization, or all) to Stripe; each that lands is marked synced.
    No organization is started past `deadline` (time.monotonic()): the rest waits for the next run."""
    settings = get_settings()
    with service_transaction() as conn:
        pending = [row["org_id"] for row in conn.execute("SELECT org_id FROM agentmode.pending_seats(%s)", (org_id,))]
    synced = failed = 0
    for org in pending:
        if deadline is not None and time.monotonic() > deadline:
            break
        try:
            synced += _sync_org(org, settings, retries)
        except AppError:
            failed += 1
            logger.error("seat sync deferred", extra={"org_id": str(org)})
            metrics.add_metric(name="SeatSyncFailed", unit="Count", value=1)
    return SyncReport(synced, failed)


def _sync_org(org_id: UUID, settings: Settings, retries: int) -> int:
    """One organization's seats under a lock of its own, read after taking it: a sync that read an older count can
    never land after one that read a newer count. 0 when another sync sent it meanwhile."""
    with service_transaction() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('seats/' || %s, 0))", (str(org_id),))
        row = conn.execute("SELECT * FROM agentmode.pending_seats(%s)", (org_id,)).fetchone()
        if row is None:
            return 0
        _send(row, settings, retries)
        conn.execute("SELECT agentmode.seats_synced(%s, %s)", (org_id, row["version"]))
    return 1


def sync_after_commit(org_id: UUID) -> None:
    """Right after a membership change committed: sends that organization's seats if they changed. Whatever fails
    here, an unexpected Stripe answer included, is left to the seat_sync schedule (and logged): the change itself
    already stands, and its request must not answer as if it had failed."""
    try:
        sync_seats(org_id, retries=0)
    except Exception as exc:  # noqa: BLE001 - after the commit nothing may turn the request into a failure
        logger.error("seat sync deferred", extra={"org_id": str(org_id), "error_type": type(exc).__name__})
        metrics.add_metric(name="SeatSyncFailed", unit="Count", value=1)
