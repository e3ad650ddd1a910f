"""Cancel at period end, and undo it. Stripe holds the state: the webhook writes it back to the organization, so the
only row written here is the organization's action counter (org_billing.action_key), and only when Stripe took the
change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from agentmode.db import Connection
from agentmode.errors import AppError, ErrorCode
from agentmode.settings import Settings
from agentmode.stripe_client import stripe_client
from opsboard_billing.org_billing import BillingState, action_key, begin_billing
from opsboard_billing.stripe_errors import STRIPE_RETRIES, stripe_errors

if TYPE_CHECKING:
    import stripe


def cancel(conn: Connection, org_id: UUID, subscription_id: str, request_key: str | None, settings: Settings) -> None:
    state = begin_billing(conn, org_id)
    current = _current_subscription(state, subscription_id)
    key = action_key(conn, state.org_id, "cancel", current, request_key)
    _set_cancel_at_period_end(stripe_client(settings, max_network_retries=STRIPE_RETRIES), current, True, key)


def reactivate(conn: Connection, org_id: UUID, subscription_id: str | None, request_key: str | None, settings: Settings) -> None:
    state = begin_billing(conn, org_id)
    current = _current_subscription(state, subscription_id)
    client = stripe_client(settings, max_network_retries=STRIPE_RETRIES)
    # Stripe's state, not the webhook's copy: a cancel made a moment ago may not have come back yet.
    with stripe_errors("subscription"):
        cancelling = bool(client.v1.subscriptions.retrieve(current).cancel_at_period_end)
    if not cancelling:
        raise AppError(ErrorCode.NOT_CANCELLING)
    key = action_key(conn, state.org_id, "reactivate", current, request_key)
    _set_cancel_at_period_end(client, current, False, key)


def _current_subscription(state: BillingState, named: str | None) -> str:
    if state.subscription_id is None:
        raise AppError(ErrorCode.NO_SUBSCRIPTION)
    if named is not None and named != state.subscription_id:
        raise AppError(ErrorCode.SUBSCRIPTION_MISMATCH)
    return state.subscription_id


def _set_cancel_at_period_end(client: stripe.StripeClient, subscription_id: str, value: bool, key: str) -> None:
    with stripe_errors("subscription_update"):
        client.v1.subscriptions.update(subscription_id, {"cancel_at_period_end": value}, {"idempotency_key": key})
