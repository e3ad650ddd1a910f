"""The signed keyset cursor of the trace list.

It carries the sort, the range it was issued for (so a default "last 7 days" does not slide under a client walking
pages) and the last row's sort key and trace id. An HMAC-SHA256 over those fields and the listing they continue
(project and filters) makes it tamper-evident: a cursor this service did not issue for this very listing is a 400, so
a client can neither move its range past the plan's look-back nor replay it on other filters. The plan's window is
still applied again on every page (routes.py): a valid cursor outlives a downgrade.
"""

import base64
import binascii
import hashlib
import hmac
import json
from decimal import Decimal
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agentmode.errors import AppError, ErrorCode
from agentmode.observability import logger
from agentmode.runtime_secrets import secret_value
from agentmode.settings import Settings
from traces.time_range import EARLIEST_NS, LATEST_NS

OrderBy = Literal["start_time", "duration", "span_count", "error_count", "total_cost", "total_tokens"]
SortOrder = Literal["asc", "desc"]

TRACE_ID_PATTERN = r"^[0-9a-fA-F]{32}$"
# Integers for times, durations and counts; a decimal with up to 10 places for cost.
SORT_KEY_PATTERN = r"^-?[0-9]{1,30}(\.[0-9]{1,10})?$"
INT64 = (-(2**63), 2**63 - 1)
UINT64 = (0, 2**64 - 1)
# Decimal128(10): 38 digits, 10 of them after the point. Written out, not negated: unary minus rounds a Decimal to the
# context's 28 digits (-1E+28), which let a 29-digit negative key through to a query that could not bind it.
DECIMAL128_10_MAX = Decimal("9" * 28 + "." + "9" * 10)
DECIMAL128_10_MIN = Decimal("-" + "9" * 28 + "." + "9" * 10)
KEY_RANGES: dict[str, tuple[Decimal, Decimal]] = {
    "start_time": (Decimal(INT64[0]), Decimal(INT64[1])),
    "duration": (Decimal(INT64[0]), Decimal(INT64[1])),
    "span_count": (Decimal(UINT64[0]), Decimal(UINT64[1])),
    "error_count": (Decimal(UINT64[0]), Decimal(UINT64[1])),
    "total_tokens": (Decimal(UINT64[0]), Decimal(UINT64[1])),
    "total_cost": (DECIMAL128_10_MIN, DECIMAL128_10_MAX),
}

# Public, so it signs cursors only where no secret is configured and the environment is local or test.
LOCAL_AND_TEST_ONLY_CURSOR_KEY = b"agentmode-local-and-test-only-trace-cursor-key"
ENVIRONMENTS_WITH_LOCAL_KEY = ("local", "test")
# Versions the MAC's input, and keeps this MAC from being valid for anything else signed with the same key.
MAC_CONTEXT = b"agentmode.traces.list-cursor.v1"


class Cursor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    order_by: OrderBy = Field(alias="o")
    sort_order: SortOrder = Field(alias="d")
    start_ns: int = Field(alias="s", ge=EARLIEST_NS, le=LATEST_NS)
    end_ns: int = Field(alias="e", ge=EARLIEST_NS, le=LATEST_NS)
    key: str = Field(alias="k", pattern=SORT_KEY_PATTERN)
    trace_id: str = Field(alias="t", pattern=TRACE_ID_PATTERN)

    @model_validator(mode="after")
    def _key_fits_its_column(self) -> Self:
        """The key is bound as its sort column's type; one that type cannot hold would fail in ClickHouse, not here."""
        low, high = KEY_RANGES[self.order_by]
        if self.order_by != "total_cost" and "." in self.key:
            raise ValueError("key must be an integer")
        if not low <= Decimal(self.key) <= high:
            raise ValueError("key out of range")
        return self


def signing_key(settings: Settings) -> bytes:
    """TRACES_CURSOR_SECRET; the public local key only in local and test, never an unsigned cursor elsewhere."""
    secret = secret_value("traces_cursor_secret", settings)
    if secret:
        return secret.encode()
    if settings.environment in ENVIRONMENTS_WITH_LOCAL_KEY:
        return LOCAL_AND_TEST_ONLY_CURSOR_KEY
    logger.error(
        "TRACES_CURSOR_SECRET is not set: the trace list cannot sign its cursors",
        extra={"setting": "TRACES_CURSOR_SECRET", "environment": settings.environment},
    )
    raise AppError(ErrorCode.SERVICE_UNAVAILABLE, details={"service": "traces", "reason": "not configured"})


def filters_fingerprint(project_id: str, span_name: str | None, query: str | None) -> str:
    """The listing a cursor continues; the MAC covers it, so the next page must ask for the same project and filters."""
    text = json.dumps([project_id, span_name or "", query or ""])
    return hashlib.sha256(text.encode()).hexdigest()


def sign(cursor: Cursor, fingerprint: str, key: bytes) -> str:
    """`payload.mac`, both unpadded URL-safe base64."""
    payload = _b64(json.dumps(cursor.model_dump(by_alias=True), separators=(",", ":")).encode())
    return f"{payload}.{_mac(payload, fingerprint, key)}"


def verify(text: str, fingerprint: str, key: bytes) -> Cursor:
    """The cursor, if this key signed exactly this text for this listing; else a 400 that says nothing more."""
    payload, dot, mac = text.partition(".")
    if not (dot and text.isascii()) or not hmac.compare_digest(mac.encode(), _mac(payload, fingerprint, key).encode()):
        raise _invalid()
    try:
        return Cursor.model_validate(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
    except (binascii.Error, ValueError, ValidationError, UnicodeDecodeError):
        raise _invalid() from None


def _invalid() -> AppError:
    return AppError(ErrorCode.VALIDATION_ERROR, "The cursor is not valid.", {"field": "cursor"})


def _mac(payload: str, fingerprint: str, key: bytes) -> str:
    message = b"\n".join((MAC_CONTEXT, fingerprint.encode(), payload.encode()))
    return _b64(hmac.new(key, message, hashlib.sha256).digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
