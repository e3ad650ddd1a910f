"""Response body of GET /agent/read-memory (seed 001 §5)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel


class MemoryHit(BaseModel):
    id: UUID
    memory_type: str
    content: str
    similarity: float
    metadata: dict[str, Any]
    created_at: datetime
    expires_at: datetime | None


class ReadMemoryResponse(BaseModel):
    results: list[MemoryHit]
