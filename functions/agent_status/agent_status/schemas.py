"""Response bodies of GET /agent/status (seed 001 §3) and GET /agent/events."""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import Field

from agentmode.api_model import ApiModel


class QuestionOption(ApiModel):
    value: str
    label: str


class OpenQuestion(ApiModel):
    question_seq: int = Field(description="The seq of its user_input_required event: POST /agent/respond names it.")
    question: str
    options: list[QuestionOption]
    default_value: str = Field(description="What the run goes on with if no answer comes before timeout_at.")
    timeout_at: datetime


class StatusResponse(ApiModel):
    session_id: UUID
    status: str
    current_step: str
    progress_percentage: int
    total_steps: int
    completed_steps: list[str]
    started_at: datetime
    estimated_completion_at: datetime | None
    completed_at: datetime | None
    error_message: str | None
    last_seq: int = Field(description="Sequence number of the newest logged event; GET /agent/events pages from here.")
    open_question: OpenQuestion | None = Field(
        default=None,
        description="The agent's question awaiting the user's answer (status awaiting_input), so a reloaded page can show it.",
    )


class LoggedEvent(ApiModel):
    seq: int
    log_id: UUID
    event: str
    payload: dict[str, Any]
    created_at: datetime


class EventsPage(ApiModel):
    session_id: UUID
    events: list[LoggedEvent]
    last_seq: int = Field(description="The session's newest seq: if above the last event here, fetch again after it.")
