"""Request and response bodies of POST /agent/write-memory (seed 001 §4)."""

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field, field_validator

from agentmode.api_model import ApiModel
from agentmode.app_factory import RequestBody, json_size, nesting_problem
from agentmode.memory import MemoryType

MAX_METADATA_BYTES = 16 * 1024
MAX_METADATA_DEPTH = 32


def _bounded(metadata: dict[str, Any]) -> dict[str, Any]:
    if json_size(metadata) > MAX_METADATA_BYTES:
        raise ValueError(f"must serialise to at most {MAX_METADATA_BYTES} bytes")
    # NUL, NaN and the like are RequestBody's to refuse.
    if problem := nesting_problem(metadata, MAX_METADATA_DEPTH):
        raise ValueError(problem)
    return metadata


class WriteMemoryRequest(RequestBody):
    model_config = ConfigDict(extra="forbid")

    content: Annotated[str, Field(min_length=1, max_length=8000)]
    memory_type: MemoryType
    metadata: Annotated[dict[str, Any], AfterValidator(_bounded)] = Field(default_factory=dict)
    expires_at: AwareDatetime | None = None

    @field_validator("content")
    @classmethod
    def _not_blank(cls, content: str) -> str:
        if not content.strip():
            raise ValueError("content must not be blank")
        return content

    @field_validator("expires_at")
    @classmethod
    def _in_the_future(cls, expires_at: datetime | None) -> datetime | None:
        if expires_at is None:
            return None
        try:
            # 9999-12-31T23:59-01:00 is year 10000 in UTC: Postgres stores it, but it cannot be read back into Python.
            expires_at.astimezone(UTC)
        except OverflowError:
            raise ValueError("expires_at must be before year 10000 in UTC") from None
        if expires_at <= datetime.now(UTC):
            raise ValueError("expires_at must be in the future")
        return expires_at


class MemoryOut(ApiModel):
    id: UUID
    user_id: UUID
    memory_type: str
    content: str
    embedding: list[float] | None = Field(default=None, description="Only with ?include_embedding=true; null otherwise.")
    metadata: dict[str, Any]
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WriteMemoryResponse(ApiModel):
    memory: MemoryOut
    deduplicated: bool = Field(description="True when this content already existed for this user and type (the row was updated).")
