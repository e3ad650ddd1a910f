"""The agent-session model shared by agent_start, agent_event and agent_status: steps, statuses, event kinds, lookups."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from agentmode.db import Connection
from agentmode.errors import AppError, ErrorCode
from agentmode.observability import logger


@dataclass(frozen=True)
class Step:
    index: int
    name: str
    status: str


# Seed 001 §1: the eight steps of a run, with the session status shown while each one runs.
STEPS: tuple[Step, ...] = (
    Step(1, "Analyze brand memory", "analyzing_brand_memory"),
    Step(2, "Research competitors", "researching_competitors"),
    Step(3, "Analyze trends", "analyzing_trends"),
    Step(4, "Generate concepts", "generating_concepts"),
    Step(5, "Generate scripts", "generating_scripts"),
    Step(6, "Generate videos", "generating_videos"),
    Step(7, "Update memory", "updating_memory"),
    Step(8, "Deliver results", "delivering_results"),
)
STEPS_BY_NAME = {step.name: step for step in STEPS}
TOTAL_STEPS = len(STEPS)

INITIALIZING = "initializing"
AWAITING_INPUT = "awaiting_input"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
TERMINAL_STATUSES = frozenset({COMPLETED, FAILED, CANCELLED})
# Used before any step has reported, and to extrapolate when progress is still 0.
DEFAULT_RUN_ESTIMATE_MS = 300_000


class EventKind(StrEnum):
    """Seed 001 §6: the realtime events an agent reports through POST /agent/event."""

    STEP_STARTED = "step_started"
    STEP_PROGRESS = "step_progress"
    STEP_COMPLETED = "step_completed"
    TOOL_CALLED = "tool_called"
    TOOL_RESULT = "tool_result"
    REASONING_UPDATE = "reasoning_update"
    USER_INPUT_REQUIRED = "user_input_required"
    ERROR = "error"
    SESSION_COMPLETED = "session_completed"


class ServerEventKind(StrEnum):
    """Events the functions log themselves (docs/runner.md), broadcast like §6's; a runner cannot post them."""

    USER_RESPONSE = "user_response"
    SESSION_CANCELLED = "session_cancelled"


def topic_for(session_id: UUID) -> str:
    return f"agent-session:{session_id}"


def load_session(conn: Connection, session_id: UUID, *, for_update: bool = False) -> dict[str, Any]:
    """The caller's session (RLS hides everyone else's, and the query says so too); 404 when it is not theirs.

    `for_update` locks it through agentmode.lock_session: the role has no UPDATE privilege, which FOR UPDATE needs."""
    query = (
        "SELECT * FROM agentmode.lock_session(%s)"
        if for_update
        else "SELECT * FROM agentmode.agent_sessions WHERE id = %s AND user_id = auth.uid()"
    )
    row = conn.execute(query, (session_id,)).fetchone()
    if row is None:
        raise AppError(ErrorCode.SESSION_NOT_FOUND, details={"session_id": str(session_id)})
    logger.append_keys(session_id=str(session_id))
    return row
