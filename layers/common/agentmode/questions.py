"""Closing an agent's question (seed 001 §6 user_input_required) exactly once: by the user's answer (agent_control)
or by its timeout (run_sweeper). Both lock the session, then the open question, so of an answer and a timeout that
race, the second finds it closed."""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from agentmode import session_log
from agentmode.db import Connection
from agentmode.runner_queue import AnswerMessage, RunnerQueue
from agentmode.sessions import AWAITING_INPUT, INITIALIZING, STEPS_BY_NAME, ServerEventKind

AnsweredBy = Literal["user", "timeout"]


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


def option_values(question: dict[str, Any]) -> list[str]:
    return [str(option["value"]) for option in question["options"]]


def _label(question: dict[str, Any], value: str) -> str | None:
    return next((str(o.get("label")) for o in question["options"] if o["value"] == value), None)


def _resumed(state: session_log.SessionState) -> session_log.SessionState:
    """Answered, the run goes back to the status of the step it was in."""
    if state.status != AWAITING_INPUT:
        return state
    step = STEPS_BY_NAME.get(state.current_step)
    return replace(state, status=step.status if step else INITIALIZING)


def close(
    conn: Connection,
    session: dict[str, Any],
    question: dict[str, Any],
    value: str,
    answered_by: AnsweredBy,
    queue: RunnerQueue,
    now: datetime,
) -> Closed:
    """Logs the user_response event, closes the question, and tells the runner, all before the caller commits: if SQS
    refuses, none of it is kept (the caller answers 503) and the question stays open for a retry."""
    fields = {"question_seq": question["question_seq"], "value": value, "label": _label(question, value),
              "answered_by": answered_by}  # fmt: skip
    state = _resumed(session_log.SessionState.from_row(session))
    logged = session_log.log_server_event(
        conn, session, ServerEventKind.USER_RESPONSE.value, fields, state, now, log_columns={"input_data": fields}
    )
    row = conn.execute(
        "SELECT agentmode.close_question(%s, %s, %s, %s) AS closed", (question["id"], value, answered_by, logged.seq)
    ).fetchone()
    # The caller holds both locks and checked the value: anything else is a bug, not a race.
    assert row is not None
    assert row["closed"], "question closed under lock"
    queue.send(
        AnswerMessage(session_id=session["id"], question_seq=question["question_seq"], value=value, answered_by=answered_by)
    )
    return Closed(question["question_seq"], value, answered_by, logged.seq, state.status)
