"""Response bodies of the billing reads, with the field names the real dashboard's types read (types/billing.types.ts,
hooks/queries/useStripeConfig.ts, lib/api/orgs.ts). Amounts are Stripe's: the currency's smallest unit, except where
the dashboard shows the main unit (preview-member-cost)."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from agentmode.api_model import ApiModel

Plan = Literal["free", "pro"]
PeriodKind = Literal["current", "custom"]
UNBILLED_USAGE = "0: the plan bills seats only, never usage."


class SubscriptionDetail(ApiModel):
    """The subscription as the webhook keeps it (no Stripe call)."""

    subscription_id: str
    status: str | None = Field(description="Stripe's status; null until the webhook delivered the first one.")
    current_period_end: int | None = Field(description="End of the paid period, Unix seconds; null until the webhook wrote it.")
    cancel_at_period_end: bool
    quantity: int | None = Field(description="Seats billed while the subscription is live: one per member.")
    seats_pending: bool = Field(description="A seat change that seat sync has not sent to Stripe yet.")
    plan: Plan = Field(description="The plan the organization has now (past-due subscriptions keep pro for 7 days).")


class SeatPricing(ApiModel):
    priceId: str
    amount: int = Field(description="Per seat, in the currency's smallest unit (cents).")
    currency: str
    interval: str = Field(description="Stripe's recurring interval (day, week, month, year), or one_time.")
    interval_count: int | None


class StripePricing(ApiModel):
    """Seat pricing only: the plan bills no usage, so the dashboard's optional `tokens` and `spans` are absent."""

    seat: SeatPricing


class MemberCost(ApiModel):
    immediate_charge: float = Field(description="Stripe's proration for one more seat now, in the currency's main unit.")
    next_period_charge: float = Field(description="One seat's price per billing interval, in the currency's main unit.")
    billing_interval: str
    period_end: datetime | None = Field(description="When the current period ends; null until the webhook wrote it.")
    currency: str


class UsageCost(ApiModel):
    usage_type: Literal["tokens", "spans"]
    quantity: int
    cost_cents: int = Field(description=UNBILLED_USAGE)


class BillingPeriod(ApiModel):
    id: PeriodKind
    period_start: datetime
    period_end: datetime
    seat_cost: int | None = Field(description="Seats x the seat price, in cents; null for a custom range, which is no period.")
    seat_count: int = Field(description="Seats the live subscription bills now (0 without one).")
    usage_costs: dict[str, int] = Field(description="Empty: the plan bills no usage.")
    usage_quantities: dict[str, int] | None = Field(description="Tokens and spans in the range; null while ClickHouse is down.")
    usage_breakdown: list[UsageCost] | None = Field(description="usage_quantities as a list; null while ClickHouse is down.")
    total_cost: int | None = Field(description="seat_cost plus the (unbilled) usage; null when seat_cost is.")
    status: PeriodKind


class ProjectUsage(ApiModel):
    project_id: UUID
    project_name: str
    tokens: int
    spans: int
    token_cost: int = Field(description=UNBILLED_USAGE)
    span_cost: int = Field(description=UNBILLED_USAGE)
    total_cost: int = Field(description=UNBILLED_USAGE)


class BillingDashboard(ApiModel):
    current_period: BillingPeriod = Field(description="The current billing period, or the custom range asked for.")
    past_periods: list[BillingPeriod] = Field(
        default_factory=list, description="Always empty: invoices are not kept here (the customer portal lists them)."
    )
    total_spent_all_time: int | None = Field(
        default=None, description="Always null: without the invoice history nothing here knows it."
    )
    is_legacy_billing: bool = Field(
        default=False, description="Always false: the webhook upgrades organizations for the plan's one price only."
    )
    legacy_cancellation_date: datetime | None = Field(default=None, description="Always null (no legacy billing).")
    project_breakdown: list[ProjectUsage] | None = Field(
        description="Per project of the organization (or the one asked for); null while ClickHouse is down."
    )
