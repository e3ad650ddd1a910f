"""The route of memory_write."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from agentmode.app_factory import RATE_LIMITED, documented_errors
from agentmode.memory import RUNNER_MEMORY_TYPES
from agentmode.observability import metrics
from agentmode.runner_auth import UserOrRunner, refuse_runner
from agentmode.settings import get_settings
from memory_write.schemas import WriteMemoryRequest, WriteMemoryResponse
from memory_write.service import write_memory

router = APIRouter(tags=["memory"])


@router.post(
    "/agent/write-memory",
    response_model=WriteMemoryResponse,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": WriteMemoryResponse, "description": "Same content already stored for this type: updated"},
        **documented_errors(
            (403, "ROLE_NOT_ALLOWED: a runner credential writing a type other than step 7's (insight, campaign_result)"),
            (504, "TOOL_TIMEOUT from the embeddings provider"),
        ),
        **RATE_LIMITED,
    },
)
async def create_memory(
    body: WriteMemoryRequest,
    user: UserOrRunner,
    response: Response,
    include_embedding: Annotated[bool, Query(description="Return the stored vector (1,024 floats).")] = False,
) -> WriteMemoryResponse:
    if body.memory_type not in RUNNER_MEMORY_TYPES:
        refuse_runner(user, f"write {body.memory_type} memories (step 7 writes {', '.join(RUNNER_MEMORY_TYPES)})")
    result = write_memory(user, body, get_settings(), include_embedding)
    if result.deduplicated:
        response.status_code = status.HTTP_200_OK
    metrics.add_metric(name="MemoriesWritten", unit="Count", value=1)
    return result
