"""The user's answer to the open question of their session: checked, logged, closed and sent to the runner in one
transaction, exactly once even against the question's timeout (agentmode.questions). The database work is one call
of agentmode.answer_question; the answer message leaves before the commit."""

from datetime import UTC, datetime

from agent_control.schemas import RespondRequest
from agent_control.session_checks import check_session
from agentmode import questions
from agentmode.db import user_transaction
from agentmode.errors import AppError, ErrorCode
from agentmode.identity import AuthUser
from agentmode.runner_queue import RunnerQueue


def question_closed(request: RespondRequest, reason: str) -> AppError:
    return AppError(
        ErrorCode.QUESTION_CLOSED,
        details={"session_id": str(request.session_id), "question_seq": request.question_seq, "reason": reason},
    )


def answer(user: AuthUser, request: RespondRequest, queue: RunnerQueue) -> questions.Closed:
    """How the question closed: by this answer, or (answered_by "timeout") by its timeout, which had passed unseen
    when the answer came: that closing is recorded and kept, and the caller tells the user the question closed."""
    with user_transaction(user) as conn:
        row = conn.execute(
            "SELECT * FROM agentmode.answer_question(%s, %s, %s, %s, %s)",
            (request.session_id, request.question_seq, request.value, datetime.now(UTC), questions.STEP_STATUSES),
        ).fetchone()
        assert row is not None  # the function returns one row or raises
        check_session(row, request.session_id)
        if row["outcome"] == "not_open":
            raise question_closed(request, "not_open")
        if row["outcome"] == "invalid_value":
            problem = {"field": "value", "message": f"must be one of: {', '.join(row['offered'])}", "type": "option"}
            raise AppError(ErrorCode.VALIDATION_ERROR, details={"errors": [problem]})
        closed = questions.Closed(request.question_seq, row["answer"], row["closed_by"], row["event_seq"], row["status"])
        questions.tell_runner(queue, request.session_id, closed)
    return closed
