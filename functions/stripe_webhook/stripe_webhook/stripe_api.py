"""The two Stripe API look-ups the webhook needs, with a timeout and bounded retries.

A checkout.session.completed event carries no line items and no period dates, and a dispute names only its charge:
the session (with its line items and subscription expanded) and the charge are fetched. Reads only: nothing here
creates anything at Stripe, so no idempotency key is needed.
"""

from typing import Any, Protocol

import stripe

from agentmode.errors import AppError, ErrorCode
from agentmode.observability import logger
from agentmode.runtime_secrets import secret_value
from agentmode.settings import Settings

STRIPE_RETRY_AFTER_MS = 5000


class StripeApi(Protocol):
    def checkout_session(self, session_id: str) -> dict[str, Any]: ...

    def charge(self, charge_id: str) -> dict[str, Any]: ...


def _unavailable(reason: str) -> AppError:
    return AppError(
        ErrorCode.SERVICE_UNAVAILABLE, details={"service": "stripe", "reason": reason, "retry_after_ms": STRIPE_RETRY_AFTER_MS}
    )


class StripeClientApi:
    def __init__(self, settings: Settings, key: str) -> None:
        self.key = key
        self.client = stripe.StripeClient(
            key,
            base_addresses={"api": settings.stripe_api_base} if settings.stripe_api_base else None,
            http_client=stripe.RequestsClient(timeout=settings.stripe_timeout_seconds),
            max_network_retries=2,
        )

    def checkout_session(self, session_id: str) -> dict[str, Any]:
        return self._call(
            lambda: self.client.v1.checkout.sessions.retrieve(session_id, {"expand": ["line_items", "subscription"]})
        )

    def charge(self, charge_id: str) -> dict[str, Any]:
        return self._call(lambda: self.client.v1.charges.retrieve(charge_id))

    @staticmethod
    def _call(request: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = request().to_dict()
        except stripe.StripeError as exc:
            logger.warning("stripe api call failed", extra={"error_type": type(exc).__name__})
            raise _unavailable("stripe api error") from None
        return result


_clients: dict[str, StripeClientApi] = {}


def stripe_api_for(settings: Settings) -> StripeApi:
    """One client per container, so its HTTP connection to Stripe is reused across events; a rotated
    STRIPE_SECRET_KEY (read per event, runtime_secrets caches it) replaces it once the key's cache age passes."""
    key = secret_value("stripe_secret_key", settings)
    if not key:
        logger.error("STRIPE_SECRET_KEY is not set: Stripe cannot be read", extra={"setting": "STRIPE_SECRET_KEY"})
        raise _unavailable("STRIPE_SECRET_KEY is not set")
    client = _clients.get(settings.stripe_api_base)
    if client is None or client.key != key:
        client = _clients[settings.stripe_api_base] = StripeClientApi(settings, key)
    return client
