"""Request and response bodies of POST /agent/start (seed 001 §1)."""

from typing import Annotated, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, HttpUrl, StringConstraints, field_validator

from agentmode.api_model import ApiModel
from agentmode.app_factory import RequestBody

AspectRatio = Literal["9:16", "1:1", "16:9", "4:5"]


class Constraints(RequestBody):
    model_config = ConfigDict(extra="forbid")

    max_videos: Annotated[int, Field(strict=True, ge=1, le=10)] = 3
    max_duration_seconds: Annotated[int, Field(strict=True, ge=5, le=180)] = 30
    aspect_ratio: AspectRatio = "9:16"


class StartRequest(RequestBody):
    model_config = ConfigDict(extra="forbid")

    goal: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    reference_video_url: Annotated[HttpUrl, Field(max_length=2048)] | None = None
    constraints: Constraints = Field(default_factory=Constraints)

    @field_validator("reference_video_url")
    @classmethod
    def _https_only(cls, url: HttpUrl | None) -> HttpUrl | None:
        if url is not None and url.scheme != "https":
            raise ValueError("reference_video_url must be an https URL")
        return url


class StepOut(ApiModel):
    step_index: int
    step_name: str
    status: Literal["queued", "running", "completed"]


class StartResponse(ApiModel):
    session_id: UUID
    status: str
    estimated_completion_time_ms: int
    steps: list[StepOut]
