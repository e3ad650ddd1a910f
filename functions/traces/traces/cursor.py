"""The opaque keyset cursor of the trace list.

It carries the sort, the range it was issued for (so a default "last 7 days" does not slide under a client walking
pages) and the last row's sort key and trace id. Its fields are bound as typed query parameters, so a forged cursor
can only move a position inside the caller's own project; a malformed one is a 400.
"""

import base64
import binascii
import hashlib
import json
from decimal import Decimal
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agentmode.errors import AppError, ErrorCode
from traces.time_range import EARLIEST_NS, LATEST_NS

OrderBy = Literal["start_time", "duration", "span_count", "error_count", "total_cost", "total_tokens"]
SortOrder = Literal["asc", "desc"]

TRACE_ID_PATTERN = r"^[0-9a-fA-F]{32}$"
# Integers for times, durations and counts; a decimal with up to 10 places for cost.
SORT_KEY_PATTERN = r"^-?[0-9]{1,30}(\.[0-9]{1,10})?$"
INT64 = (-(2**63), 2**63 - 1)
UINT64 = (0, 2**64 - 1)
# Decimal128(10): 38 digits, 10 of them after the point.
DECIMAL128_10_MAX = Decimal("9" * 28 + "." + "9" * 10)
KEY_RANGES: dict[str, tuple[Decimal, Decimal]] = {
    "start_time": (Decimal(INT64[0]), Decimal(INT64[1])),
    "duration": (Decimal(INT64[0]), Decimal(INT64[1])),
    "span_count": (Decimal(UINT64[0]), Decimal(UINT64[1])),
    "error_count": (Decimal(UINT64[0]), Decimal(UINT64[1])),
    "total_tokens": (Decimal(UINT64[0]), Decimal(UINT64[1])),
    "total_cost": (-DECIMAL128_10_MAX, DECIMAL128_10_MAX),
}


class Cursor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    order_by: OrderBy = Field(alias="o")
    sort_order: SortOrder = Field(alias="d")
    start_ns: int = Field(alias="s", ge=EARLIEST_NS, le=LATEST_NS)
    end_ns: int = Field(alias="e", ge=EARLIEST_NS, le=LATEST_NS)
    filters: str = Field(alias="f", max_length=32)
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


def filters_fingerprint(project_id: str, span_name: str | None, query: str | None) -> str:
    """Ties a cursor to the filters it was issued for; the next page must ask for the same ones."""
    text = json.dumps([project_id, span_name or "", query or ""])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode(cursor: Cursor) -> str:
    raw = json.dumps(cursor.model_dump(by_alias=True), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(text: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return Cursor.model_validate(json.loads(raw))
    except (binascii.Error, ValueError, ValidationError, UnicodeDecodeError):
        raise AppError(ErrorCode.VALIDATION_ERROR, "The cursor is not valid.", {"field": "cursor"}) from None
