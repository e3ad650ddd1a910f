"""Logging one event: lock the caller's session, advance its state, append the numbered log row, then broadcast."""

import uuid
from datetime import UTC, datetime
from typing import Any

from agent_event.outbox import publish_pending
from agent_event.payloads import realtime_payload
from agent_event.run_metrics import MetricPoint, emit, event_metrics
from agent_event.schemas import EventLogged, EventRequest
from agent_event.state import SessionState, apply_event
from agentmode.auth import AuthUser
from agentmode.db import Connection, jsonb, user_transaction
from agentmode.realtime import Broadcaster
from agentmode.sessions import load_session


def _append(conn: Connection, user: AuthUser, event: EventRequest) -> tuple[EventLogged, list[MetricPoint]]:
    session = load_session(conn, event.session_id, for_update=True)
    now = datetime.now(UTC)
    state = apply_event(SessionState.from_row(session), event, now)
    seq = session["last_seq"] + 1
    log_id = uuid.uuid4()
    payload = realtime_payload(event, log_id, seq, session["started_at"], now)
    # The role may not write sessions or logs itself: this SECURITY DEFINER function checks the seq and the session.
    conn.execute(
        "SELECT agentmode.append_session_event(%s, %s, %s, %s, %s, %s, %s)",
        (event.session_id, seq, log_id, jsonb(_log_columns(event)), jsonb(payload), jsonb(_state_columns(state)), now),
    )
    logged = EventLogged(log_id=log_id, seq=seq, session_status=state.status)
    return logged, event_metrics(event, state.status, session["started_at"], now)


def _log_columns(event: EventRequest) -> dict[str, Any]:
    return {
        "action_type": event.action_type.value,
        **event.model_dump(
            mode="json",
            include={"step_name", "tool_name", "input_data", "output_data", "reasoning", "confidence_score",
                     "execution_time_ms", "status", "error_message"},
        ),
    }  # fmt: skip


def _state_columns(state: SessionState) -> dict[str, Any]:
    return {
        "status": state.status,
        "current_step": state.current_step,
        "current_step_index": state.current_step_index,
        "progress_percentage": state.progress_percentage,
        "completed_steps": list(state.completed_steps),
        "error_message": state.error_message,
        "result": state.result,
        "completed_at": state.completed_at.isoformat() if state.completed_at else None,
    }


def log_event(user: AuthUser, event: EventRequest, broadcaster: Broadcaster) -> EventLogged:
    with user_transaction(user) as conn:
        logged, points = _append(conn, user, event)
    # After the commit: the row is safe whatever Realtime does; rows it misses are retried by the next event.
    emit(points)
    publish_pending(user, event.session_id, broadcaster)
    return logged
