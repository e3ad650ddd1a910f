"""The routes of agent_control: the session's user answers its agent's question, or cancels the run."""

from fastapi import APIRouter

from agent_control.cancel import cancel
from agent_control.respond import answer, question_closed
from agent_control.schemas import Cancelled, CancelRequest, Responded, RespondRequest
from agentmode.app_factory import documented_errors
from agentmode.auth import CurrentUser
from agentmode.observability import metrics
from agentmode.runner_queue import get_queue

router = APIRouter(tags=["agent"])

NOT_FOUND = (404, "SESSION_NOT_FOUND")
ENDED = "SESSION_ENDED (the run already completed, failed or was cancelled)"


@router.post(
    "/agent/respond",
    response_model=Responded,
    responses=documented_errors(
        (400, "VALIDATION_ERROR, also a value that is not one of the question's options"),
        NOT_FOUND,
        (409, f"QUESTION_CLOSED (answered, timed out, or not the open question), or {ENDED}"),
    ),
)
async def respond(body: RespondRequest, user: CurrentUser) -> Responded:
    closed = answer(user, body, get_queue())
    if closed.answered_by != "user":
        metrics.add_metric(name="UserInputTimeouts", unit="Count", value=1)
        raise question_closed(body, "timed_out")
    metrics.add_metric(name="UserInterventions", unit="Count", value=1)
    return Responded(session_id=body.session_id, question_seq=closed.question_seq, value=closed.value,
                     seq=closed.response_seq, session_status=closed.session_status)  # fmt: skip


@router.post("/agent/cancel", response_model=Cancelled, responses=documented_errors(NOT_FOUND, (409, ENDED)))
async def cancel_run(body: CancelRequest, user: CurrentUser) -> Cancelled:
    cancellation = cancel(user, body, get_queue())
    metrics.add_metric(name="AgentRunsCancelled", unit="Count", value=1)
    return Cancelled(session_id=body.session_id, seq=cancellation.seq, credits_refunded=cancellation.credits_refunded)
