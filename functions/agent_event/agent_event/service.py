"""Logging one event: lock the session, advance its state, append the numbered log row (which broadcasts it)."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from agent_event.payloads import realtime_payload
from agent_event.run_metrics import MetricPoint, emit, event_metrics
from agent_event.schemas import EventLogged, EventRequest
from agent_event.state import apply_event
from agentmode import session_log
from agentmode.db import Connection, jsonb, user_transaction
from agentmode.errors import AppError, ErrorCode
from agentmode.identity import AuthUser
from agentmode.runner_auth import require_session_scope
from agentmode.sessions import EventKind, load_session

# Seed 001 §6 gives a question a `timeout_ms`; one sent without it closes after this long.
DEFAULT_QUESTION_TIMEOUT_MS = 300_000
# What a question answers by itself when nobody does (seed 001 §6's example offers it), else its first option.
AGENT_DECIDES = "agent_decide"


def _append(conn: Connection, event: EventRequest) -> tuple[EventLogged, list[MetricPoint]]:
    session = load_session(conn, event.session_id, for_update=True)
    now = datetime.now(UTC)
    state = apply_event(session_log.SessionState.from_row(session), event, now)
    seq = session["last_seq"] + 1
    payload = realtime_payload(event, uuid.uuid4(), seq, session["started_at"], now)
    session_log.append(conn, session, _log_columns(event), payload, state, now)
    if event.action_type is EventKind.USER_INPUT_REQUIRED:
        _open_question(conn, event, seq, now)
    logged = EventLogged(log_id=payload["log_id"], seq=seq, session_status=state.status)
    return logged, event_metrics(event, state.status, session["started_at"], now)


def _open_question(conn: Connection, event: EventRequest, seq: int, now: datetime) -> None:
    options = [option.model_dump() for option in event.options or []]
    values = [option["value"] for option in options]
    default = AGENT_DECIDES if AGENT_DECIDES in values else values[0]
    timeout_at = now + timedelta(milliseconds=event.timeout_ms or DEFAULT_QUESTION_TIMEOUT_MS)
    try:
        conn.execute(
            "SELECT agentmode.open_question(%s, %s, %s, %s, %s)", (event.session_id, seq, jsonb(options), default, timeout_at)
        )
    except psycopg.errors.UniqueViolation:
        raise AppError(ErrorCode.QUESTION_PENDING, details={"session_id": str(event.session_id)}) from None


def _log_columns(event: EventRequest) -> dict[str, Any]:
    return {
        "action_type": event.action_type.value,
        **event.model_dump(
            mode="json",
            include={"step_name", "tool_name", "input_data", "output_data", "reasoning", "confidence_score",
                     "execution_time_ms", "status", "error_message"},
        ),
    }  # fmt: skip


def log_event(caller: AuthUser, event: EventRequest) -> EventLogged:
    require_session_scope(caller, event.session_id)
    with user_transaction(caller) as conn:
        logged, points = _append(conn, event)
    emit(points)
    return logged
