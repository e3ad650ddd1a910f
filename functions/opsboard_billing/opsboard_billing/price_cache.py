"""The plan's price as Stripe has it (amount, currency, interval), fetched at most once per container and TTL.

Stripe never changes a price's amount, currency or interval (a new price is made instead), so a cached one can only be
stale about a new STRIPE_SUBSCRIPTION_PRICE_ID, which a deployment brings with fresh containers anyway; the TTL bounds
even that. A failed fetch is not cached: the next request tries again, and meanwhile the reads answer 503.
"""

import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from agentmode.errors import AppError, ErrorCode
from agentmode.observability import logger
from agentmode.settings import Settings
from agentmode.stripe_client import stripe_client, stripe_unavailable
from opsboard_billing.discounts import plan_price
from opsboard_billing.plan import pinned_price
from opsboard_billing.stripe_errors import STRIPE_RETRIES

PRICE_CACHE_SECONDS = 3600.0
# Stripe's amounts are in the currency's smallest unit; these have none below the unit (stripe.com/docs/currencies).
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)


@dataclass(frozen=True)
class PlanPrice:
    price_id: str
    unit_amount: int
    currency: str
    interval: str | None
    interval_count: int | None

    def major_units(self, amount: int) -> float:
        """A Stripe amount in the currency's main unit (cents to dollars), as the dashboard shows it."""
        if self.currency in ZERO_DECIMAL_CURRENCIES:
            return float(amount)
        return round(amount / 100, 2)

    @property
    def interval_label(self) -> str:
        """`month`, `3 months`, or the real server's `one_time` for a price without a recurring interval."""
        if self.interval is None:
            return "one_time"
        count = self.interval_count or 1
        return self.interval if count == 1 else f"{count} {self.interval}s"

    def period_start(self, period_end: datetime) -> datetime | None:
        """The start of the billing period ending at `period_end` (the webhook keeps only the end): one interval earlier,
        a day past the month's end clamped to its last day as Stripe clamps it. Exact unless the subscription's anchor
        day is later than the end's day (anchored on the 31st, the period ending Feb 28 began Jan 31; this says Jan 28).
        None for a price without an interval."""
        count = self.interval_count or 1
        if self.interval in ("day", "week"):
            return period_end - timedelta(days=count * (7 if self.interval == "week" else 1))
        if self.interval in ("month", "year"):
            return _months_before(period_end, count * (12 if self.interval == "year" else 1))
        return None


def _months_before(moment: datetime, months: int) -> datetime:
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    next_month = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    last_day = (next_month - timedelta(days=1)).day
    return moment.replace(year=year, month=month + 1, day=min(moment.day, last_day))


_lock = threading.Lock()
_cache: dict[tuple[str, str], tuple[float, PlanPrice]] = {}


def plan_price_facts(settings: Settings) -> PlanPrice:
    """The pinned price, from the container's cache while it is younger than PRICE_CACHE_SECONDS; 503 when Stripe
    cannot be asked, or has no such price."""
    price_id = pinned_price(settings)
    key = (settings.stripe_api_base, price_id)
    with _lock:
        cached = _cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < PRICE_CACHE_SECONDS:
        return cached[1]
    facts = _fetch(settings, price_id)
    with _lock:
        _cache[key] = (time.monotonic(), facts)
    return facts


def forget_prices() -> None:
    """A fresh container's cache (tests)."""
    with _lock:
        _cache.clear()


def _fetch(settings: Settings, price_id: str) -> PlanPrice:
    try:
        price = plan_price(stripe_client(settings, max_network_retries=STRIPE_RETRIES), price_id)
    except AppError as exc:
        if exc.code is not ErrorCode.BILLING_REFUSED:
            raise
        logger.error("STRIPE_SUBSCRIPTION_PRICE_ID names no price Stripe has", extra={"setting": "STRIPE_SUBSCRIPTION_PRICE_ID"})
        raise stripe_unavailable("price not found") from None
    return _facts(price)


def _facts(price: dict[str, Any]) -> PlanPrice:
    if price.get("unit_amount") is None:
        # A seat needs a per-unit amount; tiered or custom prices cannot be shown or multiplied by seats.
        logger.error("the plan's price has no unit amount", extra={"setting": "STRIPE_SUBSCRIPTION_PRICE_ID"})
        raise stripe_unavailable("price without a unit amount")
    recurring = price.get("recurring") or {}
    return PlanPrice(
        price_id=str(price["id"]),
        unit_amount=int(price["unit_amount"]),
        currency=str(price["currency"]),
        interval=recurring.get("interval"),
        interval_count=recurring.get("interval_count"),
    )
