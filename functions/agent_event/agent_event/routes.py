"""The route of agent_event."""

from fastapi import APIRouter

from agent_event.schemas import EventLogged, EventRequest
from agent_event.service import log_event
from agentmode.app_factory import documented_errors
from agentmode.auth import CurrentUser
from agentmode.observability import metrics
from agentmode.realtime import broadcaster_for
from agentmode.settings import get_settings

router = APIRouter(tags=["agent"])


@router.post(
    "/agent/event",
    response_model=EventLogged,
    responses=documented_errors((404, "SESSION_NOT_FOUND"), (409, "SESSION_ENDED")),
)
async def record_event(body: EventRequest, user: CurrentUser) -> EventLogged:
    logged = log_event(user, body, broadcaster_for(get_settings()))
    metrics.add_metric(name="AgentEventsLogged", unit="Count", value=1)
    return logged
