"""create-free-subscription: the real server creates a Stripe subscription with a 100%-off code, skipping checkout.
Here the free plan needs no Stripe subscription, so this answers the organization's free plan and changes nothing:
a pro plan at 100% off is a checkout with that code (create-checkout-session), whose completion the webhook applies,
and a second path that makes subscriptions would bypass the one customer, the pinned price and the per-org lock.
"""

from uuid import UUID

from agentmode.db import Connection
from agentmode.errors import AppError, ErrorCode
from agentmode.settings import Settings
from opsboard_billing.org_billing import begin_billing
from opsboard_billing.plan import refuse_unpinned_price
from opsboard_billing.schemas import FreePlan, FreePlanBody


def free_plan(conn: Connection, org_id: UUID, body: FreePlanBody, settings: Settings) -> FreePlan:
    """Owners and admins; 409 while a subscription is live (cancel it to return to free), 400 for a discount code."""
    state = begin_billing(conn, org_id)
    refuse_unpinned_price(body.price_id, settings)
    if body.discount_code is not None:
        raise AppError(ErrorCode.DISCOUNT_CODE_INVALID, "The free plan takes no discount code: redeem it at checkout.")
    if state.subscribed:
        raise AppError(ErrorCode.ALREADY_SUBSCRIBED)
    return FreePlan(org_id=org_id, message="The organization is on the free plan; it needs no subscription.")
