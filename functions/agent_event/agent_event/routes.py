"""The route of agent_event."""

from fastapi import APIRouter

from agent_event.schemas import EventLogged, EventRequest
from agent_event.service import log_event
from agentmode.app_factory import documented_errors
from agentmode.observability import metrics
from agentmode.runner_auth import UserOrRunner

router = APIRouter(tags=["agent"])


@router.post(
    "/agent/event",
    response_model=EventLogged,
    responses=documented_errors(
        (404, "SESSION_NOT_FOUND (also any session but its own, for a runner credential)"),
        (409, "SESSION_ENDED, or QUESTION_PENDING (a user_input_required while the session's question is still open)"),
    ),
)
async def record_event(body: EventRequest, caller: UserOrRunner) -> EventLogged:
    """Posted by the session's runner with its credential (docs/runner.md), or by the user as seed 001 §2 shows."""
    logged = log_event(caller, body)
    metrics.add_metric(name="AgentEventsLogged", unit="Count", value=1)
    return logged
