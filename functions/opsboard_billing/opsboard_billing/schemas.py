"""Request and response bodies of the billing routes. Field names follow seed 000 and the real dashboard's calls."""

from typing import Annotated, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, StringConstraints

from agentmode.api_model import ApiModel
from agentmode.app_factory import RequestBody

# Stripe's promotion codes are letters, digits and dashes, coupon ids add underscores; anything else cannot be one, so
# it is refused before a Stripe call is spent on it.
DiscountCode = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Quantity = Annotated[int, Field(ge=1, le=100, description="Seats to buy; default: the organization's member count.")]
SubscriptionId = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_]+$")]


class CheckoutBody(RequestBody):
    model_config = ConfigDict(extra="forbid")
    price_id: str | None = Field(
        default=None, max_length=255, description="Optional; when sent it must be the plan's price (it is pinned server-side)."
    )
    discount_code: DiscountCode | None = Field(default=None, description="A promotion code, else a coupon id.")
    quantity: Quantity | None = None


class CheckoutSession(ApiModel):
    clientSecret: str = Field(description="The Checkout Session's client secret, for Stripe Elements (seed 000).")
    session_id: str
    reused: bool = Field(description="True when the organization's open Checkout Session was returned again.")


class DiscountCodeBody(RequestBody):
    model_config = ConfigDict(extra="forbid")
    discount_code: DiscountCode
    quantity: Quantity | None = Field(default=None, description="Seats the checkout would buy (for a minimum amount).")


class DiscountCheck(ApiModel):
    """Seed 000's answer to a discount code; an unknown or unusable code is `valid: false` with the rest empty."""

    valid: bool
    discount_type: Literal["percent", "amount"] | None = None
    discount_value: float | None = Field(default=None, description="Percent off, or the amount off in minor units.")
    discount_description: str | None = None
    currency: str | None = Field(default=None, description="The amount's currency (ISO 4217, lower case); null for percent.")
    is_100_percent_off: bool = False


class CancelBody(RequestBody):
    model_config = ConfigDict(extra="forbid")
    subscription_id: SubscriptionId


class ReactivateBody(RequestBody):
    model_config = ConfigDict(extra="forbid")
    subscription_id: SubscriptionId | None = Field(default=None, description="When sent, it must be the organization's.")


class Status(ApiModel):
    """Seed 000's answer to an action."""

    success: Literal[True] = True
    message: str


class FreePlanBody(RequestBody):
    """The real dashboard's create-free-subscription body."""

    model_config = ConfigDict(extra="forbid")
    price_id: str | None = Field(default=None, max_length=255, description="Optional; when sent it must be the plan's price.")
    discount_code: DiscountCode | None = Field(
        default=None, description="Refused (DISCOUNT_CODE_INVALID): the free plan takes none; codes are redeemed at checkout."
    )


class FreePlan(Status):
    """The organization stays on (or is on) the free plan, which needs no Stripe subscription."""

    org_id: UUID
    plan: Literal["free"] = "free"
    subscription_id: None = Field(default=None, description="Always null: the free plan has no subscription.")


class SubscriptionUpdateBody(RequestBody):
    """The real dashboard's update-subscription body. The plan has one price and seats follow the members, so what
    an update can ask for is exactly what the organization already has; seat sync sends it."""

    model_config = ConfigDict(extra="forbid")
    price_id: str | None = Field(default=None, max_length=255, description="Optional; when sent it must be the plan's price.")
    proration_behavior: Literal["create_prorations"] | None = Field(
        default=None, description="Seat changes are prorated onto the next invoice, as seat sync sends every change."
    )


class SeatsResent(Status):
    seats: int = Field(description="The seats recorded for the subscription: one per member.")


class PortalSession(ApiModel):
    url: str = Field(description="The Stripe customer portal session's address (short-lived: open it right away).")
