"""The user's answer to the open question of their session: checked, logged, closed and sent to the runner in one
transaction, exactly once even against the question's timeout (agentmode.questions)."""

from datetime import UTC, datetime

from agent_control.schemas import RespondRequest
from agentmode import questions
from agentmode.db import user_transaction
from agentmode.errors import AppError, ErrorCode
from agentmode.identity import AuthUser
from agentmode.runner_queue import RunnerQueue
from agentmode.sessions import TERMINAL_STATUSES, load_session


def question_closed(request: RespondRequest, reason: str) -> AppError:
    return AppError(
        ErrorCode.QUESTION_CLOSED,
        details={"session_id": str(request.session_id), "question_seq": request.question_seq, "reason": reason},
    )


def answer(user: AuthUser, request: RespondRequest, queue: RunnerQueue) -> questions.Closed:
    """How the question closed: by this answer, or (answered_by "timeout") by its timeout, which had passed unseen
    when the answer came: that closing is recorded and kept, and the caller tells the user the question closed."""
    with user_transaction(user) as conn:
        session = load_session(conn, request.session_id, for_update=True)
        if session["status"] in TERMINAL_STATUSES:
            raise AppError(ErrorCode.SESSION_ENDED, details={"status": session["status"]})
        question = questions.open_question(conn, session["id"])
        if question is None or question["question_seq"] != request.question_seq:
            raise question_closed(request, "not_open")
        now = datetime.now(UTC)
        if question["timeout_at"] <= now:
            return questions.close(conn, session, question, question["default_value"], "timeout", queue, now)
        allowed = questions.option_values(question)
        if request.value not in allowed:
            problem = {"field": "value", "message": f"must be one of: {', '.join(allowed)}", "type": "option"}
            raise AppError(ErrorCode.VALIDATION_ERROR, details={"errors": [problem]})
        return questions.close(conn, session, question, request.value, "user", queue, now)
