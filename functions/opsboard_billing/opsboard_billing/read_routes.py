"""The billing reads of /opsboard/orgs/{org_id}/ the real dashboard calls: in a read-only user transaction, where
billing_view decides who may (NOT_FOUND for non-members) without locking the organization. The webhook's columns
answer without Stripe; the plan's price comes from the container's cache (price_cache)."""

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from agentmode.app_factory import documented_errors
from agentmode.auth import CurrentUser
from agentmode.db import user_transaction
from agentmode.errors import AppError, ErrorCode
from agentmode.membership import database_rules
from agentmode.settings import get_settings
from opsboard_billing import billing_dashboard
from opsboard_billing.member_cost import member_cost
from opsboard_billing.org_billing import billing_view
from opsboard_billing.price_cache import plan_price_facts
from opsboard_billing.read_schemas import BillingDashboard, MemberCost, SeatPricing, StripePricing, SubscriptionDetail
from opsboard_billing.routes import STRIPE, OrgId
from opsboard_billing.usage import usage_by_project

router = APIRouter(tags=["billing"])

NOT_MEMBER = (404, "NOT_FOUND: no such organization for this caller (non-members cannot tell it exists)")
PRICE = (503, "SERVICE_UNAVAILABLE: the plan's price could not be read from Stripe (not cached yet), or is not configured")
ADMINS = (403, "ROLE_NOT_ALLOWED: owners and admins only")
NO_SUBSCRIPTION = "NO_SUBSCRIPTION: no live subscription"


@router.get(
    "/opsboard/orgs/{org_id}/subscription-detail",
    response_model=SubscriptionDetail,
    responses=documented_errors(ADMINS, NOT_MEMBER, (409, NO_SUBSCRIPTION)),
)
async def subscription_detail(user: CurrentUser, org_id: OrgId) -> SubscriptionDetail:
    with database_rules(), user_transaction(user, rollback=True) as conn:
        view = billing_view(conn, org_id, "admin")
    if view.subscription_id is None:
        raise AppError(ErrorCode.NO_SUBSCRIPTION)
    return SubscriptionDetail(
        subscription_id=view.subscription_id,
        status=view.subscription_status,
        current_period_end=view.period_end,
        cancel_at_period_end=view.cancel_at_period_end,
        quantity=view.seats,
        seats_pending=view.seats_pending,
        plan=view.plan,
    )


@router.get(
    "/opsboard/orgs/{org_id}/stripe-pricing", response_model=StripePricing, responses=documented_errors(NOT_MEMBER, PRICE)
)
async def stripe_pricing(user: CurrentUser, org_id: OrgId) -> StripePricing:
    with database_rules(), user_transaction(user, rollback=True) as conn:
        billing_view(conn, org_id, "business_user")
    price = plan_price_facts(get_settings())
    return StripePricing(
        seat=SeatPricing(
            priceId=price.price_id, amount=price.unit_amount, currency=price.currency,
            interval=price.interval or "one_time", interval_count=price.interval_count,
        )
    )  # fmt: skip


@router.get(
    "/opsboard/orgs/{org_id}/preview-member-cost",
    response_model=MemberCost,
    responses=documented_errors(
        NOT_MEMBER,
        (409, f"{NO_SUBSCRIPTION}, or BILLING_REFUSED: Stripe refused the preview (e.g. the subscription is gone there)"),
        STRIPE,
    ),
)
async def preview_member_cost(user: CurrentUser, org_id: OrgId) -> MemberCost:
    with database_rules(), user_transaction(user, rollback=True) as conn:
        view = billing_view(conn, org_id, "business_user")
    if not view.live or view.subscription_id is None:
        raise AppError(ErrorCode.NO_SUBSCRIPTION)
    settings = get_settings()
    return member_cost(view.subscription_id, view.period_end, plan_price_facts(settings), settings)


DateQuery = Annotated[datetime | None, Query(description="ISO 8601; UTC when it names no zone.")]


@router.get(
    "/opsboard/orgs/{org_id}/billing/dashboard",
    response_model=BillingDashboard,
    responses=documented_errors(NOT_MEMBER, PRICE),
)
async def read_billing_dashboard(
    user: CurrentUser,
    org_id: OrgId,
    start_date: DateQuery = None,
    end_date: Annotated[
        datetime | None, Query(description="With start_date: the range [start_date, end_date); a midnight takes that day in.")
    ] = None,
    project_id: Annotated[UUID | None, Query(description="Only this project of the organization.")] = None,
) -> BillingDashboard:
    now = datetime.now(UTC)
    custom = billing_dashboard.custom_range(start_date, end_date, now)
    with database_rules(), user_transaction(user, rollback=True) as conn:
        view = billing_view(conn, org_id, "business_user")
        projects = billing_dashboard.org_projects(conn, org_id, project_id)
    price = plan_price_facts(get_settings()) if view.live and custom is None else None
    period = custom or billing_dashboard.current_period(view, price, now)
    usage = usage_by_project([project.id for project in projects], period.start, period.end)
    return billing_dashboard.dashboard(view, period, price, projects, usage)
