"""validate-discount-code: the same judgement checkout makes, answered without creating anything.

Called after the caller's quota use committed (org_billing.take_discount_quota), so every code tried counts, unknown
ones included, and the Stripe calls run outside any transaction: nothing here needs the organization's lock.
"""

import time

from agentmode.settings import Settings
from agentmode.stripe_client import stripe_client
from opsboard_billing.discounts import Purchase, describe, find_discount, plan_price
from opsboard_billing.org_billing import BillingState
from opsboard_billing.schemas import DiscountCheck, DiscountCodeBody
from opsboard_billing.stripe_errors import STRIPE_RETRIES


def check_code(state: BillingState, body: DiscountCodeBody, price_id: str, settings: Settings) -> DiscountCheck:
    client = stripe_client(settings, max_network_retries=STRIPE_RETRIES)
    quantity = body.quantity or state.member_count
    purchase = Purchase(plan_price(client, price_id), quantity, state.customer_id, not state.ever_subscribed)
    discount = find_discount(client, body.discount_code, purchase, int(time.time()))
    return DiscountCheck(valid=False) if discount is None else describe(discount.coupon, purchase.currency)
