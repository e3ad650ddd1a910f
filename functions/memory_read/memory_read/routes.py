"""The route of memory_read."""

from typing import Annotated

from fastapi import APIRouter, Query

from agentmode.app_factory import RATE_LIMITED, documented_errors
from agentmode.memory import MemoryType
from agentmode.observability import metrics
from agentmode.runner_auth import UserOrRunner
from agentmode.settings import get_settings
from memory_read.schemas import ReadMemoryResponse
from memory_read.service import read_memories

router = APIRouter(tags=["memory"])


@router.get(
    "/agent/read-memory",
    response_model=ReadMemoryResponse,
    responses=documented_errors((504, "TOOL_TIMEOUT from the embeddings provider")) | RATE_LIMITED,
)
async def read_memory(
    user: UserOrRunner,
    query: Annotated[str, Query(min_length=1, max_length=2000, description="What to look for, in natural language.")],
    memory_type: MemoryType | None = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    min_similarity: Annotated[float | None, Query(ge=-1, le=1, description="Drop results below this cosine similarity.")] = None,
) -> ReadMemoryResponse:
    result = read_memories(user, query, memory_type, limit, min_similarity, get_settings())
    metrics.add_metric(name="MemoryReads", unit="Count", value=1)
    return result
