"""One sweep: what agentmode.sweep_candidates finds due, each handled as its user in its own transaction, under the
session lock and re-checked there, so overlapping sweeps (or a racing answer) act once. One failure is logged and
left for the next sweep; it does not stop the others."""

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from agentmode import questions
from agentmode.db import service_transaction, user_transaction
from agentmode.errors import AppError
from agentmode.identity import AuthUser
from agentmode.observability import logger
from agentmode.runner_queue import RunnerQueue, get_queue
from agentmode.sessions import load_session
from agentmode.settings import get_settings
from run_sweeper.stalled import end_run, why_due

BATCH_SIZE = 200


@dataclass
class SweepReport:
    found: int = 0
    questions_timed_out: int = 0
    runs_stalled: int = 0
    runs_past_deadline: int = 0
    failures: int = 0
    deferred: int = 0


def _as_user(user_id: UUID) -> AuthUser:
    """The sweep acts through the same checked functions as the session's user: no wider database path exists."""
    return AuthUser(id=user_id, role="authenticated", email=None, claims={"sub": str(user_id), "role": "authenticated"})


def _close_due_question(user: AuthUser, session_id: UUID, queue: RunnerQueue) -> bool:
    with user_transaction(user) as conn:
        session = load_session(conn, session_id, for_update=True)
        question = questions.open_question(conn, session_id)
        now = datetime.now(UTC)
        if question is None or question["timeout_at"] > now:
            return False
        questions.close(conn, session, question, question["default_value"], "timeout", queue, now)
        return True


def _end_if_due(user: AuthUser, session_id: UUID, stall: timedelta, queue: RunnerQueue) -> str | None:
    with user_transaction(user) as conn:
        session = load_session(conn, session_id, for_update=True)
        reason = why_due(conn, session, stall, datetime.now(UTC))
        if reason is not None:
            end_run(conn, session, reason, stall, queue)
        return reason


def _handle(kind: str, user: AuthUser, session_id: UUID, stall: timedelta, queue: RunnerQueue, report: SweepReport) -> None:
    if kind == "question_timeout":
        report.questions_timed_out += _close_due_question(user, session_id, queue)
        return
    reason = _end_if_due(user, session_id, stall, queue)
    report.runs_stalled += reason == "stalled"
    report.runs_past_deadline += reason == "deadline"


def sweep(deadline: float) -> SweepReport:
    settings = get_settings()
    stall = timedelta(seconds=settings.run_stall_timeout_seconds)
    with service_transaction() as conn:
        due = conn.execute(
            "SELECT session_id, user_id, reason FROM agentmode.sweep_candidates(make_interval(secs => %s), %s)",
            (settings.run_stall_timeout_seconds, BATCH_SIZE),
        ).fetchall()
    report = SweepReport(found=len(due))
    if not due:
        return report
    queue = get_queue()
    for row in due:
        if time.monotonic() > deadline:
            report.deferred += 1
            continue
        user = _as_user(row["user_id"])
        try:
            _handle(row["reason"], user, row["session_id"], stall, queue, report)
        except AppError as exc:
            report.failures += 1
            logger.warning("sweep step failed", extra={"error_code": exc.code.name, "session_id": str(row["session_id"])})
    return report
