"""Closing an agent's question (seed 001 §6 user_input_required) exactly once: by the user's answer (agent_control)
or by its timeout (run_sweeper). Both lock the session, then the open question, so of an answer and a timeout that
race, the second finds it closed. agentmode.answer_open_question logs the user_response event and closes the
question for both."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from agentmode.db import Connection, jsonb
from agentmode.runner_queue import AnswerMessage, RunnerQueue
from agentmode.sessions import STEPS

AnsweredBy = Literal["user", "timeout"]

# Answered, a run awaiting input goes back to the status of the step it was in (the database's copy of STEPS).
STEP_STATUSES = jsonb({step.name: step.status for step in STEPS})


@dataclass(frozen=True)
class Closed:
    question_seq: int
    value: str
    answered_by: AnsweredBy
    response_seq: int
    session_status: str


def open_question(conn: Connection, session_id: Any) -> dict[str, Any] | None:
    """The session's open question, locked (the caller holds the session lock), or None."""
    return conn.execute("SELECT * FROM agentmode.lock_open_question(%s)", (session_id,)).fetchone()


def tell_runner(queue: RunnerQueue, session_id: UUID, closed: Closed) -> None:
    """The runner's answer message, sent before the caller commits: if SQS refuses, none of the closing is kept (the
    caller answers 503) and the question stays open for a retry."""
    queue.send(
        AnswerMessage(session_id=session_id, question_seq=closed.question_seq, value=closed.value, answered_by=closed.answered_by)
    )


def close(
    conn: Connection,
    session: dict[str, Any],
    question: dict[str, Any],
    value: str,
    answered_by: AnsweredBy,
    queue: RunnerQueue,
    now: datetime,
) -> Closed:
    """Logs the user_response event, closes the question, and tells the runner, all before the caller commits."""
    row = conn.execute(
        "SELECT * FROM agentmode.answer_open_question(%s, %s, %s, %s, %s, %s)",
        (session["id"], question["id"], value, answered_by, now, STEP_STATUSES),
    ).fetchone()
    assert row is not None  # the function returns one row or raises
    closed = Closed(question["question_seq"], value, answered_by, row["event_seq"], row["status"])
    tell_runner(queue, session["id"], closed)
    return closed
