"""Response body of GET /agent/read-memory (seed 001 §5)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from agentmode.api_model import ApiModel


class MemoryHit(ApiModel):
    id: UUID
    memory_type: str
    content: str
    similarity: float
    metadata: dict[str, Any]
    created_at: datetime
    expires_at: datetime | None


class ReadMemoryResponse(ApiModel):
    results: list[MemoryHit]
