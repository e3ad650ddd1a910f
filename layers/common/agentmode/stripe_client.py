"""Stripe's API client, as every function that calls Stripe configures it: the secret key read at run time, a
timeout, two network retries by default (stripe-python retries only what is safe to retry, with the request's
idempotency key).

`stripe` ships with those functions only (their requirements.txt), never with the layer: it is imported here on
first use.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from agentmode.errors import AppError, ErrorCode
from agentmode.observability import logger
from agentmode.runtime_secrets import secret_value
from agentmode.settings import Settings

if TYPE_CHECKING:
    import stripe

STRIPE_RETRY_AFTER_MS = 5000

_lock = threading.Lock()
# One client per container and key, so its HTTP connection is reused; a rotated STRIPE_SECRET_KEY replaces it once
# runtime_secrets reads the new value.
_clients: dict[tuple[str, str, int], stripe.StripeClient] = {}


def stripe_unavailable(reason: str) -> AppError:
    return AppError(
        ErrorCode.SERVICE_UNAVAILABLE, details={"service": "stripe", "reason": reason, "retry_after_ms": STRIPE_RETRY_AFTER_MS}
    )


def stripe_client(settings: Settings, *, max_network_retries: int = 2) -> stripe.StripeClient:
    """The container's client; `max_network_retries=0` where a request must answer within a tighter budget."""
    key = secret_value("stripe_secret_key", settings)
    if not key:
        logger.error("STRIPE_SECRET_KEY is not set: Stripe cannot be called", extra={"setting": "STRIPE_SECRET_KEY"})
        raise stripe_unavailable("STRIPE_SECRET_KEY is not set")
    import stripe

    with _lock:
        cache_key = (settings.stripe_api_base, key, max_network_retries)
        if cache_key not in _clients:
            _clients[cache_key] = stripe.StripeClient(
                key,
                base_addresses={"api": settings.stripe_api_base} if settings.stripe_api_base else None,
                http_client=stripe.RequestsClient(timeout=settings.stripe_timeout_seconds),
                max_network_retries=max_network_retries,
            )
        return _clients[cache_key]
