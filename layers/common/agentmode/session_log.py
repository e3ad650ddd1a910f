"""A session's event log: its state as agentmode.append_session_event stores it, and the events the functions log
themselves (an answer, a cancel, a timeout, a stalled run) next to the ones runners post to /agent/event."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from agentmode.db import Connection, jsonb


@dataclass(frozen=True)
class SessionState:
    status: str
    current_step: str
    current_step_index: int
    progress_percentage: int
    completed_steps: tuple[str, ...]
    error_message: str | None
    result: dict[str, Any] | None
    completed_at: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "SessionState":
        return cls(
            status=row["status"],
            current_step=row["current_step"],
            current_step_index=row["current_step_index"],
            progress_percentage=row["progress_percentage"],
            completed_steps=tuple(row["completed_steps"]),
            error_message=row["error_message"],
            result=row["result"],
            completed_at=row["completed_at"],
        )

    def columns(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "current_step": self.current_step,
            "current_step_index": self.current_step_index,
            "progress_percentage": self.progress_percentage,
            "completed_steps": list(self.completed_steps),
            "error_message": self.error_message,
            "result": self.result,
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
        }


def timestamp(now: datetime) -> str:
    return now.isoformat().replace("+00:00", "Z")


def realtime_payload(
    kind: str, session_id: UUID, seq: int, log_id: UUID, fields: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Seed 001 §6's channel message: the kind, the session, `seq` and `log_id`, the kind's fields, the server's time."""
    body = {key: value for key, value in fields.items() if value is not None}
    return {"event": kind, "session_id": str(session_id), "seq": seq, "log_id": str(log_id), **body, "timestamp": timestamp(now)}


def append(
    conn: Connection,
    session: dict[str, Any],
    log_columns: dict[str, Any],
    payload: dict[str, Any],
    state: SessionState,
    now: datetime,
) -> None:
    """Appends the next event of a session locked by the caller (agentmode.lock_session) and broadcasts it on the
    session's private Realtime channel, inside the caller's transaction. The role may not write sessions or logs
    itself: this SECURITY DEFINER function checks the seq, the scope and that the run is live."""
    conn.execute(
        "SELECT agentmode.append_session_event(%s, %s, %s, %s, %s, %s, %s)",
        (session["id"], payload["seq"], payload["log_id"], jsonb(log_columns), jsonb(payload), jsonb(state.columns()), now),
    )


@dataclass(frozen=True)
class Logged:
    log_id: UUID
    seq: int


def log_server_event(
    conn: Connection,
    session: dict[str, Any],
    kind: str,
    fields: dict[str, Any],
    state: SessionState,
    now: datetime,
    log_columns: dict[str, Any] | None = None,
) -> Logged:
    """Logs one event the functions raise themselves, numbered after the session's last and broadcast like the rest."""
    seq, log_id = session["last_seq"] + 1, uuid.uuid4()
    payload = realtime_payload(kind, session["id"], seq, log_id, fields, now)
    append(conn, session, {"action_type": kind, **(log_columns or {})}, payload, state, now)
    # The caller's row now trails the database: a second event in the same transaction must get the seq after this.
    session["last_seq"] = seq
    return Logged(log_id=log_id, seq=seq)
