"""preview-member-cost: what one more member costs a paying organization.

The seat's price per interval comes from the price cache; the charge for the rest of the current period is Stripe's own
proration, from an invoice preview of the subscription with one more seat (Stripe's clock, the subscription's
discounts and anchor), so the figure is the one Stripe will bill. Nothing is changed at Stripe or here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from agentmode.settings import Settings
from agentmode.stripe_client import stripe_client
from opsboard_billing.price_cache import PlanPrice
from opsboard_billing.read_schemas import MemberCost
from opsboard_billing.stripe_errors import STRIPE_RETRIES, stripe_errors

if TYPE_CHECKING:
    import stripe


def member_cost(subscription_id: str, period_end: int | None, price: PlanPrice, settings: Settings) -> MemberCost:
    """For the organization's live subscription and the end of its period as the webhook keeps it."""
    client = stripe_client(settings, max_network_retries=STRIPE_RETRIES)
    prorated = _proration_for_one_more_seat(client, subscription_id, price.price_id)
    return MemberCost(
        immediate_charge=price.major_units(max(0, prorated)),
        next_period_charge=price.major_units(price.unit_amount),
        billing_interval=price.interval_label,
        period_end=None if period_end is None else datetime.fromtimestamp(period_end, UTC),
        currency=price.currency,
    )


def _proration_for_one_more_seat(client: stripe.StripeClient, subscription_id: str, price_id: str) -> int:
    with stripe_errors("subscription"):
        subscription = client.v1.subscriptions.retrieve(subscription_id).to_dict()
    item = seat_item(subscription, price_id)
    with stripe_errors("invoice_preview"):
        invoice = client.v1.invoices.create_preview(
            {
                "customer": str(subscription["customer"]),
                "subscription": subscription_id,
                "subscription_details": {
                    "items": [{"id": str(item["id"]), "quantity": int(item["quantity"]) + 1}],
                    "proration_behavior": "create_prorations",
                },
            }
        ).to_dict()
    return sum(int(line["amount"]) for line in invoice["lines"]["data"] if _is_proration(line))


def seat_item(subscription: dict[str, Any], price_id: str) -> dict[str, Any]:
    """The item that bills seats: the plan's price, else the first, as seat sync picks it."""
    items: list[dict[str, Any]] = subscription["items"]["data"]
    return next((item for item in items if item["price"]["id"] == price_id), items[0])


def _is_proration(line: dict[str, Any]) -> bool:
    parent = line.get("parent") or {}
    details = parent.get("subscription_item_details") or parent.get("invoice_item_details") or {}
    return bool(details.get("proration"))
