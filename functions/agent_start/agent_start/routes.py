"""The route of agent_start."""

from typing import Annotated

from fastapi import APIRouter, Header, Response, status
from pydantic import AfterValidator

from agent_start.schemas import StartRequest, StartResponse
from agent_start.service import start_session
from agentmode.app_factory import RATE_LIMITED, documented_errors
from agentmode.auth import CurrentUser
from agentmode.observability import logger, metrics
from agentmode.runner_queue import get_queue
from agentmode.settings import get_settings

router = APIRouter(tags=["agent"])


def _storable_key(key: str | None) -> str | None:
    """The key is stored in a text column, which cannot hold NUL: refused here rather than failing the insert (a 500)."""
    if key is not None and "\x00" in key:
        raise ValueError("must not contain NUL characters")
    return key


IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255), AfterValidator(_storable_key)
]


@router.post(
    "/agent/start",
    response_model=StartResponse,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": StartResponse, "description": "Replay of an earlier request with the same Idempotency-Key"},
        **documented_errors((402, "INSUFFICIENT_CREDITS"), (422, "IDEMPOTENCY_KEY_REUSED")),
        **RATE_LIMITED,
    },
)
async def start_agent(
    body: StartRequest, user: CurrentUser, response: Response, idempotency_key: IdempotencyKey = None
) -> StartResponse:
    outcome = start_session(user, body, idempotency_key, get_settings(), get_queue())
    logger.append_keys(session_id=str(outcome.response.session_id))
    if outcome.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    else:
        metrics.add_metric(name="AgentRunsStarted", unit="Count", value=1)
    return outcome.response
