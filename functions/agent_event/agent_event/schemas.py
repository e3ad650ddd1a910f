"""POST /agent/event: one §6 event an agent reports, validated per kind."""

from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from agentmode.api_model import ApiModel
from agentmode.app_factory import RequestBody, json_size, nesting_problem
from agentmode.sessions import STEPS_BY_NAME, EventKind

MAX_JSON_FIELD_BYTES = 64 * 1024
MAX_JSON_FIELD_DEPTH = 32


def _bounded_json(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and json_size(value) > MAX_JSON_FIELD_BYTES:
        raise ValueError(f"must serialise to at most {MAX_JSON_FIELD_BYTES} bytes")
    # Nested deeper, GET /agent/events could never serialise the stored event again (a 500 on every read of the
    # session). NUL, NaN and the like are RequestBody's to refuse.
    if value is not None and (problem := nesting_problem(value, MAX_JSON_FIELD_DEPTH)):
        raise ValueError(problem)
    return value


JsonObject = Annotated[dict[str, Any] | None, AfterValidator(_bounded_json)]
ShortText = Annotated[str, Field(min_length=1, max_length=2000)]


class InputOption(RequestBody):
    model_config = ConfigDict(extra="forbid")

    value: Annotated[str, Field(min_length=1, max_length=100)]
    label: Annotated[str, Field(min_length=1, max_length=200)]


_REQUIRED: dict[EventKind, tuple[str, ...]] = {
    EventKind.STEP_STARTED: ("step_name",),
    EventKind.STEP_PROGRESS: ("step_name", "progress_percentage"),
    EventKind.STEP_COMPLETED: ("step_name",),
    EventKind.TOOL_CALLED: ("tool_name",),
    EventKind.TOOL_RESULT: ("tool_name", "status"),
    EventKind.REASONING_UPDATE: ("reasoning",),
    EventKind.USER_INPUT_REQUIRED: ("question", "options"),
    EventKind.ERROR: ("error_message",),
    EventKind.SESSION_COMPLETED: ("status",),
}

_ALLOWED_STATUS: dict[EventKind, frozenset[str]] = {
    EventKind.TOOL_RESULT: frozenset({"success", "error"}),
    EventKind.SESSION_COMPLETED: frozenset({"success", "failed"}),
}


# Seed 001 writes the same event two ways: §2's request (`action_type`, `input_data`, `output_data`) and §6's channel
# messages (`event`, `input`, `output`, plus the sender's `timestamp` and `total_duration_ms`). Both are accepted as
# they stand; the server's own clock stamps every event, and a run's duration is measured from its start.
SEED_FIELD_ALIASES = {"event": "action_type", "input": "input_data", "output": "output_data"}
SENDER_COMPUTED_FIELDS = ("timestamp", "total_duration_ms")


def _seed_tool_call(body: dict[str, Any]) -> str:
    """§2's `tool_call` is one of §6's two tool events: a call that reports its output or outcome is the result."""
    finished = any(body.get(name) is not None for name in ("output_data", "status", "execution_time_ms"))
    return EventKind.TOOL_RESULT.value if finished else EventKind.TOOL_CALLED.value


def seed_compatible(body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    body = dict(body)
    for seed_name, name in SEED_FIELD_ALIASES.items():
        if seed_name in body and name not in body:
            body[name] = body.pop(seed_name)
    for name in SENDER_COMPUTED_FIELDS:
        value = body.pop(name, None)
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
            raise ValueError(f"{name} must be a string or an integer")
    if body.get("action_type") == "tool_call":
        body["action_type"] = _seed_tool_call(body)
    return body


class EventRequest(RequestBody):
    model_config = ConfigDict(extra="forbid")

    _seed_shapes = model_validator(mode="before")(seed_compatible)

    session_id: UUID
    action_type: EventKind
    step_name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    step_index: Annotated[int, Field(strict=True, ge=1, le=8)] | None = None
    tool_name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:\-]+$")] | None = None
    input_data: JsonObject = None
    output_data: JsonObject = None
    result: JsonObject = None
    reasoning: Annotated[str, Field(min_length=1, max_length=10_000)] | None = None
    confidence_score: Annotated[float, Field(ge=0, le=1)] | None = None
    execution_time_ms: Annotated[int, Field(strict=True, ge=0, le=86_400_000)] | None = None
    status: Literal["success", "error", "failed"] | None = None
    error_message: ShortText | None = None
    progress_percentage: Annotated[int, Field(strict=True, ge=0, le=100)] | None = None
    message: ShortText | None = None
    question: ShortText | None = None
    options: Annotated[list[InputOption], Field(min_length=1, max_length=10)] | None = None
    timeout_ms: Annotated[int, Field(strict=True, ge=1000, le=86_400_000)] | None = None
    recovery_strategy: Literal["retry_after_delay", "retry", "skip", "abort"] | None = None
    retry_after_ms: Annotated[int, Field(strict=True, ge=0, le=86_400_000)] | None = None

    @model_validator(mode="after")
    def _fits_its_kind(self) -> Self:
        missing = [name for name in _REQUIRED[self.action_type] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"{self.action_type.value} requires {', '.join(missing)}")
        allowed = _ALLOWED_STATUS.get(self.action_type)
        if allowed is not None and self.status not in allowed:
            raise ValueError(f"{self.action_type.value} status must be one of {', '.join(sorted(allowed))}")
        if self.step_name is not None and self.action_type.value.startswith("step_"):
            step = STEPS_BY_NAME.get(self.step_name)
            if step is None:
                raise ValueError(f"unknown step_name; expected one of: {', '.join(STEPS_BY_NAME)}")
            if self.step_index is not None and self.step_index != step.index:
                raise ValueError(f"step_index of '{step.name}' is {step.index}")
        return self


class EventLogged(ApiModel):
    log_id: UUID
    status: Literal["logged"] = "logged"
    seq: int = Field(description="Per-session sequence number of this event (1, 2, 3, ...).")
    session_status: str
