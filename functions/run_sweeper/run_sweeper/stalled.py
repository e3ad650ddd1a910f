"""Ending a run nobody reports on: an `error` event (recovery `abort`) saying why, then the failed completion, and a
cancel message so a runner that is only slow stops too. Re-checked under the session lock: exactly once."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from agentmode import session_log
from agentmode.db import Connection
from agentmode.runner_queue import CancelMessage, RunnerQueue
from agentmode.sessions import FAILED, TERMINAL_STATUSES, EventKind

Reason = Literal["stalled", "deadline"]


def why_due(conn: Connection, session: dict[str, Any], stall: timedelta, now: datetime) -> Reason | None:
    """Why the locked session must end now, or None (it ended, or reported since the sweep looked)."""
    if session["status"] in TERMINAL_STATUSES:
        return None
    if session["deadline_at"] <= now:
        return "deadline"
    if session["updated_at"] > now - stall:
        return None
    waiting = conn.execute(
        "SELECT 1 FROM agentmode.agent_questions WHERE session_id = %s AND answered_at IS NULL AND timeout_at > %s",
        (session["id"], now),
    ).fetchone()
    return None if waiting else "stalled"


def _message(reason: Reason, stall: timedelta) -> str:
    if reason == "deadline":
        return "The run passed its deadline and was stopped."
    return f"The run stalled: no event for {int(stall.total_seconds())} seconds."


def end_run(conn: Connection, session: dict[str, Any], reason: Reason, stall: timedelta, queue: RunnerQueue) -> None:
    now = datetime.now(UTC)
    message = _message(reason, stall)
    state = session_log.SessionState.from_row(session)
    error_fields = {"error_message": message, "recovery_strategy": "abort", "reason": reason}
    session_log.log_server_event(
        conn, session, EventKind.ERROR.value, error_fields, replace(state, error_message=message), now,
        log_columns={"error_message": message},
    )  # fmt: skip
    failed = replace(state, status=FAILED, error_message=message, completed_at=now)
    total_ms = int((now - session["started_at"]).total_seconds() * 1000)
    completion = {"status": "failed", "error_message": message, "total_duration_ms": total_ms}
    session_log.log_server_event(
        conn, session, EventKind.SESSION_COMPLETED.value, completion, failed, now,
        log_columns={"status": "failed", "error_message": message},
    )  # fmt: skip
    queue.send(CancelMessage(session_id=session["id"], reason=reason))
