"""The Realtime message of each event kind, in seed 001 §6's shapes (plus `seq` and `log_id`)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from agent_event.schemas import EventRequest
from agentmode import session_log
from agentmode.sessions import STEPS_BY_NAME, EventKind


def _step_index(event: EventRequest) -> int | None:
    step = STEPS_BY_NAME.get(event.step_name or "")
    return step.index if step else None


def _fields(event: EventRequest, started_at: datetime, now: datetime) -> dict[str, Any]:
    kind = event.action_type
    if kind is EventKind.STEP_STARTED:
        return {"step_name": event.step_name, "step_index": _step_index(event)}
    if kind is EventKind.STEP_PROGRESS:
        return {"step_name": event.step_name, "progress_percentage": event.progress_percentage, "message": event.message}
    if kind is EventKind.STEP_COMPLETED:
        return {"step_name": event.step_name, "step_index": _step_index(event), "result": event.result}
    if kind is EventKind.TOOL_CALLED:
        return {"tool_name": event.tool_name, "input": event.input_data}
    if kind is EventKind.TOOL_RESULT:
        output = {**(event.output_data or {}), "execution_time_ms": event.execution_time_ms}
        return {"tool_name": event.tool_name, "output": output, "status": event.status}
    if kind is EventKind.REASONING_UPDATE:
        return {"step_name": event.step_name, "reasoning": event.reasoning, "confidence_score": event.confidence_score}
    if kind is EventKind.USER_INPUT_REQUIRED:
        options = [option.model_dump() for option in event.options or []]
        return {"question": event.question, "options": options, "timeout_ms": event.timeout_ms}
    if kind is EventKind.ERROR:
        return {
            "error_message": event.error_message,
            "recovery_strategy": event.recovery_strategy,
            "retry_after_ms": event.retry_after_ms,
        }
    total_ms = int((now - started_at).total_seconds() * 1000)
    return {"status": event.status, "result": event.result, "total_duration_ms": total_ms}


def realtime_payload(event: EventRequest, log_id: UUID, seq: int, started_at: datetime, now: datetime) -> dict[str, Any]:
    return session_log.realtime_payload(
        event.action_type.value, event.session_id, seq, log_id, _fields(event, started_at, now), now
    )
