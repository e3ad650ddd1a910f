"""The session checks agentmode.answer_question and agentmode.cancel_run make before they act, as the errors
agentmode.sessions.load_session and the routes gave: not the caller's session (404), or a run that already ended."""

from typing import Any
from uuid import UUID

from agentmode.errors import AppError, ErrorCode
from agentmode.observability import logger


def check_session(outcome: dict[str, Any], session_id: UUID) -> None:
    if outcome["outcome"] == "not_found":
        raise AppError(ErrorCode.SESSION_NOT_FOUND, details={"session_id": str(session_id)})
    logger.append_keys(session_id=str(session_id))
    if outcome["outcome"] == "ended":
        raise AppError(ErrorCode.SESSION_ENDED, details={"status": outcome["status"]})
