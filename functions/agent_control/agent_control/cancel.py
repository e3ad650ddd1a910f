"""Cancelling a run: the session ends as `cancelled`, a session_cancelled event is logged, the credits are settled
and the runner told, in one transaction; from the commit on, the runner's credential is refused. The database work
is one call of agentmode.cancel_run; the cancel message leaves before the commit."""

from dataclasses import dataclass
from datetime import UTC, datetime

from agent_control.schemas import CancelRequest
from agent_control.session_checks import check_session
from agentmode.db import user_transaction
from agentmode.identity import AuthUser
from agentmode.runner_queue import CancelMessage, RunnerQueue


@dataclass(frozen=True)
class Cancellation:
    seq: int
    credits_refunded: int


def cancel(user: AuthUser, request: CancelRequest, queue: RunnerQueue) -> Cancellation:
    with user_transaction(user) as conn:
        # Refunded in full before step 6 (Generate videos) began, where the per-video cost is incurred; see the migration.
        row = conn.execute("SELECT * FROM agentmode.cancel_run(%s, %s)", (request.session_id, datetime.now(UTC))).fetchone()
        assert row is not None  # the function returns one row or raises
        check_session(row, request.session_id)
        queue.send(CancelMessage(session_id=request.session_id, reason="user"))
    return Cancellation(seq=row["event_seq"], credits_refunded=row["refunded"])
