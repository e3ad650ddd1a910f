"""What a checkout sells and where it returns to: fixed by the deployment, never by the client."""

from dataclasses import dataclass
from typing import Any

from agentmode.errors import AppError, ErrorCode
from agentmode.observability import logger
from agentmode.settings import Settings


@dataclass(frozen=True)
class Offer:
    price_id: str
    return_url: str


def checkout_offer(settings: Settings, requested_price: str | None) -> Offer:
    """The plan's price and the return page; 400 for a client naming another price, 503 when either is not set."""
    price = pinned_price(settings)
    refuse_other_price(requested_price, price)
    return Offer(price, return_url(settings))


def _not_configured(setting: str) -> AppError:
    logger.error(f"{setting} is not set: no checkout can be made", extra={"setting": setting})
    return AppError(ErrorCode.SERVICE_UNAVAILABLE, details={"service": "opsboard_billing", "reason": "not configured"})


def pinned_price(settings: Settings) -> str:
    """STRIPE_SUBSCRIPTION_PRICE_ID, the only price the webhook upgrades an organization for."""
    if not settings.stripe_subscription_price_id:
        raise _not_configured("STRIPE_SUBSCRIPTION_PRICE_ID")
    return settings.stripe_subscription_price_id


def refuse_other_price(requested: str | None, pinned: str) -> None:
    """A client naming another price would pay for something the webhook ignores (the real server's weakness)."""
    if requested is not None and requested != pinned:
        problem: dict[str, Any] = {
            "field": "body.price_id", "message": "Must be the plan's price, or absent.", "type": "price_not_offered"
        }  # fmt: skip
        raise AppError(ErrorCode.VALIDATION_ERROR, details={"errors": [problem]})


def refuse_unpinned_price(requested: str | None, settings: Settings) -> None:
    """refuse_other_price for a route that needs the price only to check what the client named."""
    if requested is not None:
        refuse_other_price(requested, pinned_price(settings))


def return_url(settings: Settings) -> str:
    """The web app's page a finished checkout returns to; Stripe fills in the session id."""
    return f"{settings_page(settings)}?session_id={{CHECKOUT_SESSION_ID}}"


def settings_page(settings: Settings) -> str:
    """The web app's organization settings, where checkout and the customer portal return to."""
    if not settings.app_url:
        raise _not_configured("APP_URL")
    return f"{settings.app_url.rstrip('/')}/settings/organization"
