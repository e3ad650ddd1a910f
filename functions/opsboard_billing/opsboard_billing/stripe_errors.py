"""Stripe's failures as this API's errors. Stripe's own message text is never passed on, to the client or the logs:
it can name customers, amounts or ids of other objects. Only the error's type and Stripe's error code are kept.

Raising inside the caller's transaction rolls it back, so a failed Stripe call writes nothing.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager

from agentmode.errors import AppError, ErrorCode
from agentmode.observability import logger
from agentmode.stripe_client import stripe_unavailable

STRIPE_CODE = re.compile(r"^[a-z_]{1,64}$")
# No retry: a checkout makes up to CHECKOUT_STRIPE_CALLS calls while the organization's row is locked (recorded session
# retrieve and expire, promotion code list, price, coupon, customer create, session create), each bounded by
# STRIPE_TIMEOUT_SECONDS (template: 1.5 s), within the function's 29 s. A failure answers 503; a client's retry is safe:
# every create carries an idempotency key derived from the organization's state or the request.
STRIPE_RETRIES = 0
CHECKOUT_STRIPE_CALLS = 7


def _refused(code: str | None) -> AppError:
    reason = code if code is not None and STRIPE_CODE.match(code) else "invalid_request"
    return AppError(ErrorCode.BILLING_REFUSED, details={"service": "stripe", "reason": reason})


@contextmanager
def stripe_errors(operation: str) -> Iterator[None]:
    """Maps a Stripe error raised in the block: refusals (the request itself is wrong for Stripe, e.g. the subscription
    no longer exists) to 409 BILLING_REFUSED; outages, throttling and 5xx to 503 with a retry hint."""
    import stripe  # here, not at import: it costs ~0.5 s of cold start that the refusing paths never need

    try:
        yield
    except stripe.StripeError as exc:
        extra = {"operation": operation, "error_type": type(exc).__name__, "stripe_code": exc.code, "status": exc.http_status}
        if isinstance(exc, stripe.InvalidRequestError | stripe.IdempotencyError):
            logger.warning("stripe refused a billing call", extra=extra)
            raise _refused("idempotency_error" if isinstance(exc, stripe.IdempotencyError) else exc.code) from None
        if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
            logger.error("stripe refused the API key", extra=extra)
            raise stripe_unavailable("not authorized") from None
        logger.warning("stripe unavailable for a billing call", extra=extra)
        if isinstance(exc, stripe.RateLimitError):
            raise stripe_unavailable("rate limited") from None
        if isinstance(exc, stripe.APIConnectionError):
            raise stripe_unavailable("unreachable") from None
        raise stripe_unavailable("stripe api error") from None
