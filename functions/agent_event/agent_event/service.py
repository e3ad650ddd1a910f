"""Logging one event: lock the caller's session, advance its state, append the numbered log row, then broadcast."""

import uuid
from datetime import UTC, datetime

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
    conn.execute(
        "INSERT INTO agentmode.agent_execution_logs (id, session_id, user_id, seq, step_name, action_type, tool_name,"
        " input_data, output_data, reasoning, confidence_score, execution_time_ms, status, error_message, event_payload,"
        " created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            log_id, event.session_id, user.id, seq, event.step_name, event.action_type.value, event.tool_name,
            jsonb(event.input_data) if event.input_data is not None else None,
            jsonb(event.output_data) if event.output_data is not None else None,
            event.reasoning, event.confidence_score, event.execution_time_ms, event.status, event.error_message,
            jsonb(payload), now,
        ),
    )  # fmt: skip
    conn.execute(
        "UPDATE agentmode.agent_sessions SET status = %s, current_step = %s, current_step_index = %s,"
        " progress_percentage = %s, completed_steps = %s, error_message = %s, result = %s, completed_at = %s,"
        " last_seq = %s, updated_at = %s WHERE id = %s",
        (
            state.status, state.current_step, state.current_step_index, state.progress_percentage,
            list(state.completed_steps), state.error_message,
            jsonb(state.result) if state.result is not None else None,
            state.completed_at, seq, now, event.session_id,
        ),
    )  # fmt: skip
    logged = EventLogged(log_id=log_id, seq=seq, session_status=state.status)
    return logged, event_metrics(event, state.status, session["started_at"], now)


def log_event(user: AuthUser, event: EventRequest, broadcaster: Broadcaster) -> EventLogged:
    with user_transaction(user) as conn:
        logged, points = _append(conn, user, event)
    # After the commit: the row is safe whatever Realtime does; rows it misses are retried by the next event.
    emit(points)
    publish_pending(user, event.session_id, broadcaster)
    return logged
