"""Request and response bodies of POST /agent/respond and POST /agent/cancel."""

from typing import Annotated, Literal
from uuid import UUID

from pydantic import ConfigDict, Field

from agentmode.api_model import ApiModel
from agentmode.app_factory import RequestBody


class RespondRequest(RequestBody):
    model_config = ConfigDict(extra="forbid")

    session_id: UUID
    # A seq is a Postgres bigint: a larger number names no question and is refused here, not by the database's cast.
    question_seq: Annotated[
        int, Field(strict=True, ge=1, le=2**63 - 1, description="The `seq` of the user_input_required event.")
    ]
    value: Annotated[str, Field(min_length=1, max_length=100, description="One of the question's option values.")]


class Responded(ApiModel):
    session_id: UUID
    question_seq: int
    value: str
    answered_by: Literal["user"] = "user"
    seq: int = Field(description="The seq of the user_response event logged for this answer.")
    session_status: str


class CancelRequest(RequestBody):
    model_config = ConfigDict(extra="forbid")

    session_id: UUID


class Cancelled(ApiModel):
    session_id: UUID
    status: Literal["cancelled"] = "cancelled"
    seq: int = Field(description="The seq of the session_cancelled event.")
    credits_refunded: int = Field(description="Credits given back: the whole charge if no video generation had begun.")
