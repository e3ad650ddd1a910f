"""Cancelling a run: the session ends as `cancelled`, a session_cancelled event is logged, the credits are settled
and the runner told, in one transaction; from the commit on, the runner's credential is refused."""

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from agent_control.schemas import CancelRequest
from agentmode import session_log
from agentmode.db import user_transaction
from agentmode.errors import AppError, ErrorCode
from agentmode.identity import AuthUser
from agentmode.runner_queue import CancelMessage, RunnerQueue
from agentmode.sessions import CANCELLED, TERMINAL_STATUSES, ServerEventKind, load_session


@dataclass(frozen=True)
class Cancellation:
    seq: int
    credits_refunded: int


def cancel(user: AuthUser, request: CancelRequest, queue: RunnerQueue) -> Cancellation:
    with user_transaction(user) as conn:
        session = load_session(conn, request.session_id, for_update=True)
        if session["status"] in TERMINAL_STATUSES:
            raise AppError(ErrorCode.SESSION_ENDED, details={"status": session["status"]})
        now = datetime.now(UTC)
        state = replace(session_log.SessionState.from_row(session), status=CANCELLED, completed_at=now)
        fields = {"reason": "user", "step_name": session["current_step"]}
        logged = session_log.log_server_event(conn, session, ServerEventKind.SESSION_CANCELLED.value, fields, state, now)
        # Refunded in full before step 6 (Generate videos) began, where the per-video cost is incurred; see the migration.
        row = conn.execute("SELECT agentmode.refund_cancelled_run(%s) AS refunded", (session["id"],)).fetchone()
        queue.send(CancelMessage(session_id=session["id"], reason="user"))
    return Cancellation(seq=logged.seq, credits_refunded=int(row["refunded"]) if row else 0)
