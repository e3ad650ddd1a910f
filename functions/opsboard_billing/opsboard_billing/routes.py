"""The billing actions of /opsboard/orgs/{org_id}/: parse, then one user transaction in which begin_billing decides
who may (owners and admins) and locks the organization while Stripe is called. Stripe's webhook writes the outcome.
The reads are in read_routes."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Path

from agentmode.app_factory import RATE_LIMITED, documented_errors
from agentmode.auth import CurrentUser
from agentmode.db import user_transaction
from agentmode.membership import database_rules
from agentmode.seats import sync_after_commit
from agentmode.settings import get_settings
from opsboard_billing import checkout, discount_check, subscription_changes
from opsboard_billing.customer_portal import portal_session
from opsboard_billing.free_plan import free_plan
from opsboard_billing.org_billing import take_discount_quota
from opsboard_billing.plan import checkout_offer, pinned_price
from opsboard_billing.schemas import (
    CancelBody,
    CheckoutBody,
    CheckoutSession,
    DiscountCheck,
    DiscountCodeBody,
    FreePlan,
    FreePlanBody,
    PortalSession,
    ReactivateBody,
    SeatsResent,
    Status,
    SubscriptionUpdateBody,
)
from opsboard_billing.seat_resync import record_seats

router = APIRouter(tags=["billing"])

OrgId = Annotated[UUID, Path(description="An organization the caller belongs to.")]
# Sent on to Stripe inside our own key (`cancel-{org}-{key}`), which Stripe caps at 255 characters.
RequestKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$",
           description="Makes a retry of this request a replay at Stripe."),
]  # fmt: skip


WHO = (
    (403, "ROLE_NOT_ALLOWED: owners and admins only"),
    (404, "NOT_FOUND: no such organization for this caller (non-members cannot tell it exists)"),
)
STRIPE = (503, "SERVICE_UNAVAILABLE: Stripe unreachable, throttling or failing (nothing was written), or not configured")
REFUSED = "BILLING_REFUSED: Stripe refused the change (e.g. the subscription no longer exists there)"
SUBSCRIPTION = "NO_SUBSCRIPTION, SUBSCRIPTION_MISMATCH (not the organization's current one)"


@router.post(
    "/opsboard/orgs/{org_id}/create-checkout-session",
    response_model=CheckoutSession,
    responses=documented_errors(
        (400, "VALIDATION_ERROR (price_id other than the plan's, quantity outside 1-100) or DISCOUNT_CODE_INVALID"),
        *WHO,
        (409, f"ALREADY_SUBSCRIBED: a live subscription (or a completed checkout awaiting its webhook); {REFUSED}"),
        STRIPE,
    )
    | RATE_LIMITED,
)
async def create_checkout_session(user: CurrentUser, org_id: OrgId, body: CheckoutBody) -> CheckoutSession:
    settings = get_settings()
    offer = checkout_offer(settings, body.price_id)
    if body.discount_code is not None:
        # Committed on its own: a refused code must count, and checkout must not be a way around validation's quota.
        with database_rules(), user_transaction(user) as conn:
            take_discount_quota(conn, org_id)
    with database_rules(), user_transaction(user) as conn:
        return checkout.create_checkout(conn, org_id, body, offer, settings)


@router.post(
    "/opsboard/orgs/{org_id}/validate-discount-code",
    response_model=DiscountCheck,
    responses=documented_errors(*WHO, STRIPE) | RATE_LIMITED,
)
async def validate_discount_code(user: CurrentUser, org_id: OrgId, body: DiscountCodeBody) -> DiscountCheck:
    settings = get_settings()
    price_id = pinned_price(settings)
    with database_rules(), user_transaction(user) as conn:
        state = take_discount_quota(conn, org_id)
    return discount_check.check_code(state, body, price_id, settings)


@router.post(
    "/opsboard/orgs/{org_id}/cancel-subscription",
    response_model=Status,
    responses=documented_errors(*WHO, (409, f"{SUBSCRIPTION}; {REFUSED}"), STRIPE),
)
async def cancel_subscription(user: CurrentUser, org_id: OrgId, body: CancelBody, request_key: RequestKey = None) -> Status:
    with database_rules(), user_transaction(user) as conn:
        subscription_changes.cancel(conn, org_id, body.subscription_id, request_key, get_settings())
    return Status(message="The subscription will be cancelled at the end of the current billing period.")


@router.post(
    "/opsboard/orgs/{org_id}/reactivate-subscription",
    response_model=Status,
    responses=documented_errors(*WHO, (409, f"{SUBSCRIPTION}, NOT_CANCELLING (not set to cancel); {REFUSED}"), STRIPE),
)
async def reactivate_subscription(
    user: CurrentUser, org_id: OrgId, body: ReactivateBody | None = None, request_key: RequestKey = None
) -> Status:
    with database_rules(), user_transaction(user) as conn:
        subscription_changes.reactivate(conn, org_id, body.subscription_id if body else None, request_key, get_settings())
    return Status(message="The subscription was reactivated; it renews at the end of the current billing period.")


@router.post(
    "/opsboard/orgs/{org_id}/create-free-subscription",
    response_model=FreePlan,
    responses=documented_errors(
        (400, "VALIDATION_ERROR (price_id other than the plan's), or DISCOUNT_CODE_INVALID: the free plan takes no code"),
        *WHO,
        (409, "ALREADY_SUBSCRIBED: a live subscription (cancel it to return to the free plan)"),
    ),
)
async def create_free_subscription(user: CurrentUser, org_id: OrgId, body: FreePlanBody | None = None) -> FreePlan:
    with database_rules(), user_transaction(user, rollback=True) as conn:
        return free_plan(conn, org_id, body or FreePlanBody(), get_settings())


@router.post(
    "/opsboard/orgs/{org_id}/update-subscription",
    response_model=SeatsResent,
    responses=documented_errors(
        (400, "VALIDATION_ERROR: a price_id other than the plan's, or a proration other than create_prorations"),
        *WHO,
        (409, "NO_SUBSCRIPTION: no live subscription"),
    ),
)
async def update_subscription(user: CurrentUser, org_id: OrgId, body: SubscriptionUpdateBody | None = None) -> SeatsResent:
    with database_rules(), user_transaction(user) as conn:
        answer = record_seats(conn, org_id, body or SubscriptionUpdateBody(), get_settings())
    sync_after_commit(org_id)
    return answer


@router.post(
    "/opsboard/orgs/{org_id}/customer-portal",
    response_model=PortalSession,
    responses=documented_errors(*WHO, (409, f"NO_SUBSCRIPTION: no Stripe customer yet (never subscribed); {REFUSED}"), STRIPE),
)
async def customer_portal(user: CurrentUser, org_id: OrgId, request_key: RequestKey = None) -> PortalSession:
    with database_rules(), user_transaction(user) as conn:
        return portal_session(conn, org_id, request_key, get_settings())
