"""The routes of agent_status."""

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from agent_status.eta import estimate_completion
from agent_status.schemas import EventsPage, LoggedEvent, OpenQuestion, StatusResponse
from agentmode.app_factory import documented_errors
from agentmode.db import Connection, user_transaction
from agentmode.runner_auth import UserOrRunner, require_session_scope
from agentmode.sessions import AWAITING_INPUT, load_session

router = APIRouter(
    tags=["agent"],
    responses=documented_errors((404, "SESSION_NOT_FOUND (also any session but its own, for a runner credential)")),
)

SessionId = Annotated[UUID, Query(description="The session to read.")]


@router.get("/agent/status", response_model=StatusResponse)
async def read_status(session_id: SessionId, caller: UserOrRunner) -> StatusResponse:
    require_session_scope(caller, session_id)
    with user_transaction(caller) as conn:
        session = load_session(conn, session_id)
        question = _open_question(conn, session_id) if session["status"] == AWAITING_INPUT else None
    now = datetime.now(UTC)
    return StatusResponse(
        session_id=session["id"],
        status=session["status"],
        current_step=session["current_step"],
        progress_percentage=session["progress_percentage"],
        total_steps=session["total_steps"],
        completed_steps=session["completed_steps"],
        started_at=session["started_at"],
        estimated_completion_at=estimate_completion(
            session["started_at"], session["progress_percentage"], session["status"], session["completed_at"], now
        ),
        completed_at=session["completed_at"],
        error_message=session["error_message"],
        last_seq=session["last_seq"],
        open_question=question,
    )


def _open_question(conn: Connection, session_id: UUID) -> OpenQuestion | None:
    """The text is the asking event's: the question row holds what closing it needs (options, default, timeout)."""
    row = conn.execute(
        "SELECT q.question_seq, l.event_payload ->> 'question' AS question, q.options, q.default_value, q.timeout_at"
        " FROM agentmode.agent_questions q JOIN agentmode.agent_execution_logs l"
        " ON l.session_id = q.session_id AND l.seq = q.question_seq"
        " WHERE q.session_id = %s AND q.user_id = auth.uid() AND q.answered_at IS NULL",
        (session_id,),
    ).fetchone()
    return OpenQuestion.model_validate(row) if row else None


@router.get("/agent/events", response_model=EventsPage)
async def read_events(
    session_id: SessionId,
    caller: UserOrRunner,
    after_seq: Annotated[int, Query(ge=0, description="Return events with a larger seq.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> EventsPage:
    require_session_scope(caller, session_id)
    with user_transaction(caller) as conn:
        session = load_session(conn, session_id)
        rows = conn.execute(
            "SELECT seq, id, action_type, event_payload, created_at FROM agentmode.agent_execution_logs"
            " WHERE session_id = %s AND user_id = auth.uid() AND seq > %s ORDER BY seq LIMIT %s",
            (session_id, after_seq, limit),
        ).fetchall()
    events = [
        LoggedEvent(seq=r["seq"], log_id=r["id"], event=r["action_type"], payload=r["event_payload"], created_at=r["created_at"])
        for r in rows
    ]
    return EventsPage(session_id=session_id, events=events, last_seq=session["last_seq"])
