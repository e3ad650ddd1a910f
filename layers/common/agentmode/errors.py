"""The one table of error codes and the one error body every function answers with."""

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class ErrorSpec:
    http_status: int
    message: str


class ErrorCode(Enum):
    """Seed 001 §7 plus the codes §8 and this API add. The value is the code's HTTP status and default message."""

    UNAUTHORIZED = ErrorSpec(401, "Invalid or missing authentication token.")
    FORBIDDEN = ErrorSpec(403, "You are not allowed to do this.")
    NOT_FOUND = ErrorSpec(404, "Not found.")
    SESSION_NOT_FOUND = ErrorSpec(404, "Session not found.")
    METHOD_NOT_ALLOWED = ErrorSpec(405, "Method not allowed.")
    # Organizations (seed 000 /opsboard). The database's rules raise these by name (agentmode.membership).
    ROLE_NOT_ALLOWED = ErrorSpec(403, "Your role in this organization does not allow this.")
    PLAN_LIMIT_REACHED = ErrorSpec(403, "The organization's plan limit is reached. Upgrade to add more.")
    MEMBER_NOT_FOUND = ErrorSpec(404, "No such member in this organization.")
    INVITE_NOT_FOUND = ErrorSpec(404, "No pending invite.")
    ALREADY_MEMBER = ErrorSpec(409, "Already a member of this organization.")
    INVITE_PENDING = ErrorSpec(409, "This address already has a pending invite.")
    LAST_OWNER = ErrorSpec(409, "An organization keeps at least one owner.")
    ORG_HAS_SUBSCRIPTION = ErrorSpec(409, "Cancel the organization's subscription first.")
    ORG_HAS_PROJECTS = ErrorSpec(409, "Delete the organization's projects first.")
    INVITE_EXPIRED = ErrorSpec(410, "The invite has expired. Ask for a new one.")
    # Billing (seed 000's /opsboard/orgs/{org_id}/ billing routes). Stripe's own error text never reaches a client.
    DISCOUNT_CODE_INVALID = ErrorSpec(400, "This discount code is not valid for this plan.")
    ALREADY_SUBSCRIBED = ErrorSpec(409, "The organization already has a subscription.")
    NO_SUBSCRIPTION = ErrorSpec(409, "The organization has no subscription.")
    SUBSCRIPTION_MISMATCH = ErrorSpec(409, "This is not the organization's current subscription.")
    NOT_CANCELLING = ErrorSpec(409, "The subscription is not set to cancel.")
    BILLING_REFUSED = ErrorSpec(409, "Stripe refused this billing change.")
    INVITE_NOT_SENT = ErrorSpec(502, "The invite e-mail could not be sent; no invite was saved.")
    VALIDATION_ERROR = ErrorSpec(400, "The request is invalid.")
    MISSING_BRAND_MEMORY = ErrorSpec(400, "User has no brand memory. Please complete onboarding first.")
    INSUFFICIENT_CREDITS = ErrorSpec(402, "Not enough credits for this run. Please upgrade your plan.")
    SESSION_ENDED = ErrorSpec(409, "The session has already ended.")
    QUESTION_PENDING = ErrorSpec(409, "The session already waits for an answer to its open question.")
    QUESTION_CLOSED = ErrorSpec(409, "The session has no open question: it was answered, timed out, or never asked.")
    IDEMPOTENCY_KEY_REUSED = ErrorSpec(422, "This Idempotency-Key was already used with a different request.")
    WEBHOOK_SIGNATURE_INVALID = ErrorSpec(400, "The webhook signature could not be verified.")
    PAYLOAD_TOO_LARGE = ErrorSpec(413, "The request body is too large.")
    URI_TOO_LONG = ErrorSpec(414, "The request line is too long.")
    HEADERS_TOO_LARGE = ErrorSpec(431, "The request headers are too large.")
    RATE_LIMIT_EXCEEDED = ErrorSpec(429, "Rate limit exceeded.")
    TOOL_RATE_LIMIT = ErrorSpec(429, "Tool rate limit exceeded.")
    TOOL_TIMEOUT = ErrorSpec(504, "Tool execution timed out.")
    SERVICE_UNAVAILABLE = ErrorSpec(503, "A backing service is unavailable. Please retry.")
    INTERNAL_ERROR = ErrorSpec(500, "Unexpected error.")

    @property
    def http_status(self) -> int:
        return self.value.http_status

    @property
    def default_message(self) -> str:
        return self.value.message


class AppError(Exception):
    """An expected failure: rendered as the error body with its code's status."""

    def __init__(
        self,
        code: ErrorCode,
        message: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.code = code
        self.message = message or code.default_message
        self.details = details or {}
        super().__init__(self.message)

    @property
    def retry_after_ms(self) -> int | None:
        value = self.details.get("retry_after_ms")
        return int(value) if isinstance(value, int | float) else None


class ErrorBody(BaseModel):
    """Seed 001 §7's error format, plus the request id to quote to support."""

    # Its validator is built on the first error, not at import: a cold start whose first request succeeds never needs it.
    model_config = ConfigDict(defer_build=True)

    error: str = Field(description="Human-readable message.")
    error_code: str = Field(description="Stable machine-readable code.", examples=["SESSION_NOT_FOUND"])
    details: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime
    request_id: str


def error_body(code: ErrorCode, message: str, details: dict[str, Any], request_id: str) -> ErrorBody:
    return ErrorBody(
        error=message,
        error_code=code.name,
        details=details,
        timestamp=datetime.now(UTC),
        request_id=request_id,
    )
