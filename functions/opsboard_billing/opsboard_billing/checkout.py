"""A Checkout Session for an organization: at most one payable session per organization at any time.

Everything happens in the caller's transaction, after begin_billing locked the organization's row: a second request
for the same organization waits for the first to commit, then finds the session it recorded and gets that session
again (`reused`) instead of a second one that could also be paid. A session asked for with other terms (seats,
discount) replaces the open one, which is expired at Stripe first. Any Stripe failure raises, the transaction rolls
back and nothing is recorded; Stripe's idempotency keys make the retry get the same customer and session.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from agentmode.db import Connection
from agentmode.errors import AppError, ErrorCode
from agentmode.settings import Settings
from agentmode.stripe_client import stripe_client
from opsboard_billing.discounts import Discount, Purchase, find_discount, plan_price
from opsboard_billing.org_billing import LIVE_SUBSCRIPTION_STATUSES, BillingState, begin_billing, save_checkout
from opsboard_billing.plan import Offer
from opsboard_billing.schemas import CheckoutBody, CheckoutSession
from opsboard_billing.stripe_errors import STRIPE_RETRIES, stripe_errors

if TYPE_CHECKING:
    import stripe


@dataclass(frozen=True)
class Terms:
    """What the client asked for; the same terms get the same open session back."""

    price_id: str
    quantity: int
    discount_code: str | None

    def metadata(self, org_id: UUID) -> dict[str, str]:
        found = {"org_id": str(org_id), "initial_seats": str(self.quantity), "price_id": self.price_id}
        return found | ({"discount_code": self.discount_code} if self.discount_code else {})

    def idempotency_key(self, state: BillingState) -> str:
        """Per recorded checkout (its generation) and terms: a retry after a lost answer gets the same session, the
        next checkout a new one. Never a time bucket."""
        terms = f"{self.price_id}-{self.quantity}-{self.discount_code or 'none'}"
        return f"checkout-{state.org_id}-{state.checkout_generation}-{terms}"


def create_checkout(conn: Connection, org_id: UUID, body: CheckoutBody, offer: Offer, settings: Settings) -> CheckoutSession:
    state = begin_billing(conn, org_id)
    if state.subscribed:
        raise AppError(ErrorCode.ALREADY_SUBSCRIBED)
    terms = Terms(offer.price_id, body.quantity or state.member_count, body.discount_code)
    client = stripe_client(settings, max_network_retries=STRIPE_RETRIES)
    recorded = _recorded_session(client, state)
    if recorded is not None and recorded["status"] == "open" and recorded.get("metadata") == terms.metadata(org_id):
        return _answer(recorded, reused=True)
    discount = _discount(client, terms, state)
    if recorded is not None and recorded["status"] == "open":
        _expire(client, str(recorded["id"]))
    customer_id = state.customer_id or _create_customer(client, state)
    session = _create_session(client, state, terms, discount, customer_id, offer.return_url)
    save_checkout(conn, org_id, customer_id, str(session["id"]), int(session["expires_at"]))
    return _answer(session, reused=False)


def _answer(session: dict[str, Any], *, reused: bool) -> CheckoutSession:
    return CheckoutSession(clientSecret=str(session["client_secret"]), session_id=str(session["id"]), reused=reused)


def _recorded_session(client: stripe.StripeClient, state: BillingState) -> dict[str, Any] | None:
    """The organization's recorded session as Stripe has it now, unless it expired by its own clock. A completed one
    whose subscription Stripe still bills means the webhook has not arrived yet: the organization is subscribed."""
    session_id = state.open_checkout(datetime.now(UTC))
    if session_id is None:
        return None
    with stripe_errors("checkout_session"):
        session = client.v1.checkout.sessions.retrieve(session_id, {"expand": ["subscription"]}).to_dict()
    subscription = session.get("subscription")
    billed = isinstance(subscription, dict) and subscription.get("status") in LIVE_SUBSCRIPTION_STATUSES
    if session["status"] == "complete" and billed:
        raise AppError(ErrorCode.ALREADY_SUBSCRIBED)
    return session


def _discount(client: stripe.StripeClient, terms: Terms, state: BillingState) -> Discount | None:
    if terms.discount_code is None:
        return None
    purchase = Purchase(plan_price(client, terms.price_id), terms.quantity, state.customer_id, not state.ever_subscribed)
    discount = find_discount(client, terms.discount_code, purchase, int(time.time()))
    if discount is None:
        raise AppError(ErrorCode.DISCOUNT_CODE_INVALID)
    return discount


def _expire(client: stripe.StripeClient, session_id: str) -> None:
    with stripe_errors("checkout_session_expire"):
        client.v1.checkout.sessions.expire(session_id, options={"idempotency_key": f"expire-{session_id}"})


def _create_customer(client: stripe.StripeClient, state: BillingState) -> str:
    """The organization's one Stripe customer; the key makes a retry within Stripe's 24 h get the same one."""
    with stripe_errors("customer"):
        customer = client.v1.customers.create(
            {"name": state.name, "metadata": {"org_id": str(state.org_id)}}, {"idempotency_key": f"customer-{state.org_id}"}
        )
    return str(customer.id)


def _create_session(
    client: stripe.StripeClient, state: BillingState, terms: Terms, discount: Discount | None, customer_id: str, return_url: str
) -> dict[str, Any]:
    params: dict[str, Any] = {
        # Stripe Elements on the web app (seed 000's clientSecret); API 2026-03-25 renamed ui_mode `custom` to this.
        "ui_mode": "elements",
        "mode": "subscription",
        "customer": customer_id,
        "line_items": [{"price": terms.price_id, "quantity": terms.quantity}],
        "client_reference_id": str(state.org_id),
        "metadata": terms.metadata(state.org_id),
        "subscription_data": {"metadata": {"org_id": str(state.org_id)}},
        "return_url": return_url,
    }
    if discount is not None:
        params["discounts"] = [discount.entry]
    with stripe_errors("checkout_session_create"):
        return client.v1.checkout.sessions.create(params, {"idempotency_key": terms.idempotency_key(state)}).to_dict()  # type: ignore[arg-type]
