"""A verified Stripe event, read from its raw JSON (plain dicts: stripe-python's objects are not dicts since v16)."""

import json
from dataclasses import dataclass
from typing import Any

import stripe

from agentmode.app_factory import unstorable
from agentmode.errors import AppError, ErrorCode
from agentmode.observability import logger

SIGNATURE_TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class StripeEvent:
    id: str
    type: str
    created: int
    object: dict[str, Any]


def verified_event(raw_body: bytes, signature_header: str | None, secret: str) -> StripeEvent:
    """Checks the v1 signature over the exact raw bytes Stripe sent, then parses them; anything off is a 400."""
    if not secret:
        logger.error("STRIPE_WEBHOOK_SECRET is not set: events cannot be verified", extra={"setting": "STRIPE_WEBHOOK_SECRET"})
        raise AppError(ErrorCode.SERVICE_UNAVAILABLE, details={"service": "stripe_webhook", "reason": "not configured"})
    try:
        stripe.WebhookSignature.verify_header(raw_body.decode("utf-8"), signature_header, secret, SIGNATURE_TOLERANCE_SECONDS)
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        raise AppError(ErrorCode.WEBHOOK_SIGNATURE_INVALID) from None
    try:
        body = json.loads(raw_body)
        event = StripeEvent(
            id=str(body["id"]), type=str(body["type"]), created=int(body["created"]), object=dict(body["data"]["object"])
        )
    except (ValueError, KeyError, TypeError, RecursionError):
        raise AppError(ErrorCode.VALIDATION_ERROR, details={"reason": "not a Stripe event"}) from None
    # Its id, type and object are stored (text, jsonb): what Postgres refuses would fail the claim as a 500, retried forever.
    reason = unstorable(body)
    if reason is not None:
        raise AppError(ErrorCode.VALIDATION_ERROR, details={"reason": reason})
    return event
