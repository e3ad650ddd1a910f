"""Discount codes: a promotion code first (with every restriction Stripe attaches to it), else a coupon by id.

The real server took any active promotion code and any valid coupon as they came; here a code is usable only if the
checkout it would be applied to meets all its conditions, so what validate-discount-code says is what checkout does.
A code that matches a promotion code is judged as that promotion code only: it never falls back to a coupon of the
same id, which would shed the promotion code's restrictions. Coupons' `applies_to` and `currency_options`, and
promotion codes' `restrictions.currency_options`, are only included when expanded, so every call expands them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opsboard_billing.schemas import DiscountCheck
from opsboard_billing.stripe_errors import stripe_errors

if TYPE_CHECKING:
    import stripe

COUPON_INCLUDES = ["applies_to", "currency_options"]
PROMOTION_INCLUDES = [
    "data.promotion.coupon",
    *(f"data.promotion.coupon.{field}" for field in COUPON_INCLUDES),
    "data.restrictions.currency_options",
]
DURATIONS = {"once": " on the first invoice", "forever": " forever"}


@dataclass(frozen=True)
class Purchase:
    """What the code would be applied to: the plan's Stripe price, the seats, and who buys."""

    price: dict[str, Any]
    quantity: int
    customer_id: str | None
    first_time: bool

    @property
    def currency(self) -> str:
        return str(self.price["currency"])

    @property
    def amount(self) -> int | None:
        unit = self.price.get("unit_amount")
        return None if unit is None else int(unit) * self.quantity


@dataclass(frozen=True)
class Discount:
    """The Checkout Session's `discounts` entry and the coupon behind it."""

    entry: dict[str, str]
    coupon: dict[str, Any]


def plan_price(client: stripe.StripeClient, price_id: str) -> dict[str, Any]:
    with stripe_errors("price"):
        return client.v1.prices.retrieve(price_id).to_dict()


def find_discount(client: stripe.StripeClient, code: str, purchase: Purchase, now: int) -> Discount | None:
    """The usable discount `code` names for `purchase`, or None (unknown, inactive, or a condition unmet)."""
    promotion = _promotion_code(client, code)
    if promotion is not None:
        coupon = (promotion.get("promotion") or {}).get("coupon")
        if not isinstance(coupon, dict) or not (_promotion_usable(promotion, purchase, now) and _coupon_usable(coupon, purchase)):
            return None
        return Discount({"promotion_code": str(promotion["id"])}, coupon)
    coupon = _coupon(client, code)
    if coupon is not None and _coupon_usable(coupon, purchase):
        return Discount({"coupon": str(coupon["id"])}, coupon)
    return None


def _promotion_code(client: stripe.StripeClient, code: str) -> dict[str, Any] | None:
    with stripe_errors("promotion_codes"):
        found = client.v1.promotion_codes.list({"code": code, "active": True, "limit": 1, "expand": PROMOTION_INCLUDES})
    return found.data[0].to_dict() if found.data else None


def _coupon(client: stripe.StripeClient, code: str) -> dict[str, Any] | None:
    import stripe

    with stripe_errors("coupon"):
        try:
            return client.v1.coupons.retrieve(code, {"expand": COUPON_INCLUDES}).to_dict()
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing":
                return None
            raise


def _promotion_usable(promotion: dict[str, Any], purchase: Purchase, now: int) -> bool:
    restrictions = promotion.get("restrictions") or {}
    expires_at = promotion.get("expires_at")
    max_redemptions = promotion.get("max_redemptions")
    customer = promotion.get("customer")
    minimum = _minimum_amount(restrictions, purchase.currency)
    amount = purchase.amount
    return (
        bool(promotion.get("active"))
        and (expires_at is None or int(expires_at) > now)
        and (max_redemptions is None or int(promotion.get("times_redeemed") or 0) < int(max_redemptions))
        and (customer is None or customer == purchase.customer_id)
        and (purchase.first_time or not restrictions.get("first_time_transaction"))
        and minimum is not None
        and (minimum == 0 or (amount is not None and amount >= minimum))
    )


def _minimum_amount(restrictions: dict[str, Any], currency: str) -> int | None:
    """The minimum in the price's currency: 0 when there is none, None when the code sets one only in other currencies."""
    options = restrictions.get("currency_options") or {}
    if currency in options:
        return int(options[currency].get("minimum_amount") or 0)
    minimum = restrictions.get("minimum_amount")
    if minimum is None:
        return 0
    return int(minimum) if restrictions.get("minimum_amount_currency") == currency else None


def _coupon_usable(coupon: dict[str, Any], purchase: Purchase) -> bool:
    products = (coupon.get("applies_to") or {}).get("products") or []
    return (
        bool(coupon.get("valid"))
        and (not products or purchase.price.get("product") in products)
        and (coupon.get("percent_off") is not None or _amount_off(coupon, purchase.currency) is not None)
    )


def _amount_off(coupon: dict[str, Any], currency: str) -> int | None:
    if coupon.get("amount_off") is not None and coupon.get("currency") == currency:
        return int(coupon["amount_off"])
    option = (coupon.get("currency_options") or {}).get(currency) or {}
    return None if option.get("amount_off") is None else int(option["amount_off"])


def describe(coupon: dict[str, Any], currency: str) -> DiscountCheck:
    """Seed 000's description of a usable discount."""
    duration = str(coupon.get("duration") or "once")
    months = coupon.get("duration_in_months")
    lasting = f" for {months} months" if duration == "repeating" and months else DURATIONS.get(duration, "")
    percent = coupon.get("percent_off")
    if percent is not None:
        return DiscountCheck(
            valid=True, discount_type="percent", discount_value=float(percent),
            discount_description=f"{float(percent):g}% off{lasting}", is_100_percent_off=float(percent) == 100,
        )  # fmt: skip
    amount = _amount_off(coupon, currency) or 0
    return DiscountCheck(
        valid=True, discount_type="amount", discount_value=float(amount), currency=currency,
        discount_description=f"{amount / 100:.2f} {currency.upper()} off{lasting}",
    )  # fmt: skip
