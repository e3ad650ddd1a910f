"""Validation of POST /agent/event bodies: each §6 kind with the fields it needs, and nothing unbounded."""

import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from agent_event.schemas import MAX_JSON_FIELD_BYTES, EventRequest


def body(**fields: Any) -> dict[str, Any]:
    return {"session_id": str(uuid.uuid4()), **fields}


@pytest.mark.parametrize(
    "fields",
    [
        {"action_type": "step_started"},
        {"action_type": "step_progress", "step_name": "Analyze trends"},
        {"action_type": "tool_called"},
        {"action_type": "tool_result", "tool_name": "search"},
        {"action_type": "tool_result", "tool_name": "search", "status": "failed"},
        {"action_type": "reasoning_update"},
        {"action_type": "user_input_required", "question": "Tone?"},
        {"action_type": "error"},
        {"action_type": "session_completed"},
        {"action_type": "session_completed", "status": "error"},
        {"action_type": "step_started", "step_name": "Make coffee"},
        {"action_type": "step_started", "step_name": "Analyze trends", "step_index": 2},
        {"action_type": "tool_invoked", "tool_name": "search"},
        {"action_type": "tool_called", "tool_name": "rm -rf /"},
        {"action_type": "tool_called", "tool_name": "search", "unexpected": 1},
        {"action_type": "reasoning_update", "reasoning": "x", "confidence_score": 1.5},
        {"action_type": "tool_result", "tool_name": "search", "status": "success", "execution_time_ms": -1},
    ],
)
def test_invalid_events_are_rejected(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        EventRequest.model_validate(body(**fields))


def test_oversized_json_fields_are_rejected() -> None:
    blob = {"data": "x" * MAX_JSON_FIELD_BYTES}
    with pytest.raises(ValidationError):
        EventRequest.model_validate(body(action_type="tool_called", tool_name="search", input_data=blob))


def test_the_seed_example_validates_once_named_by_its_6_kind() -> None:
    event = EventRequest.model_validate(
        body(
            step_name="Research competitors",
            action_type="tool_result",
            tool_name="meta_ads_search",
            input_data={"search_term": "Nike", "limit": 50},
            output_data={"ads": []},
            reasoning="Searching Meta Ads Library for Nike to identify winning hooks",
            confidence_score=0.95,
            execution_time_ms=2300,
            status="success",
        )
    )
    assert event.tool_name == "meta_ads_search"
