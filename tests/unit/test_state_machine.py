"""The session state machine of POST /agent/event (seed 001 §6)."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from agent_event.schemas import EventRequest
from agent_event.state import SessionState, apply_event
from agentmode.errors import AppError, ErrorCode

NOW = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)


def fresh() -> SessionState:
    return SessionState(
        status="initializing",
        current_step="Initializing agent",
        current_step_index=0,
        progress_percentage=0,
        completed_steps=(),
        error_message=None,
        result=None,
        completed_at=None,
    )


def event(action_type: str, **fields: Any) -> EventRequest:
    return EventRequest.model_validate({"session_id": str(uuid.uuid4()), "action_type": action_type, **fields})


def test_step_started_sets_the_step_and_its_status() -> None:
    state = apply_event(fresh(), event("step_started", step_name="Research competitors"), NOW)
    assert (state.status, state.current_step, state.current_step_index) == ("researching_competitors", "Research competitors", 2)


def test_step_completed_adds_the_step_once_and_moves_progress() -> None:
    state = apply_event(fresh(), event("step_completed", step_name="Analyze brand memory"), NOW)
    state = apply_event(state, event("step_completed", step_name="Analyze brand memory"), NOW)
    assert state.completed_steps == ("Analyze brand memory",)
    assert state.progress_percentage == 12


def test_step_progress_counts_the_running_step_share() -> None:
    state = apply_event(fresh(), event("step_completed", step_name="Analyze brand memory"), NOW)
    state = apply_event(state, event("step_progress", step_name="Research competitors", progress_percentage=50), NOW)
    assert state.progress_percentage == 18  # (1 + 0.5) / 8


def test_progress_never_goes_backwards() -> None:
    state = apply_event(fresh(), event("step_progress", step_name="Research competitors", progress_percentage=80), NOW)
    later = apply_event(state, event("step_progress", step_name="Research competitors", progress_percentage=10), NOW)
    assert later.progress_percentage == state.progress_percentage


def test_all_steps_completed_stays_below_100_until_the_session_completes() -> None:
    state = fresh()
    for name in ("Analyze brand memory", "Research competitors", "Analyze trends", "Generate concepts",
                 "Generate scripts", "Generate videos", "Update memory", "Deliver results"):  # fmt: skip
        state = apply_event(state, event("step_completed", step_name=name), NOW)
    assert state.progress_percentage == 99
    done = apply_event(state, event("session_completed", status="success", result={"videos_generated": 3}), NOW)
    assert (done.status, done.progress_percentage, done.completed_at, done.result) == (
        "completed",
        100,
        NOW,
        {"videos_generated": 3},
    )


def test_user_input_required_waits_and_the_next_step_event_resumes() -> None:
    options = [{"value": "friendly", "label": "Friendly"}]
    waiting = apply_event(fresh(), event("user_input_required", question="Which tone?", options=options), NOW)
    assert waiting.status == "awaiting_input"
    resumed = apply_event(waiting, event("step_started", step_name="Generate concepts"), NOW)
    assert resumed.status == "generating_concepts"


def test_recoverable_error_keeps_the_session_running() -> None:
    state = apply_event(fresh(), event("error", error_message="rate limited", recovery_strategy="retry_after_delay"), NOW)
    assert (state.status, state.error_message) == ("initializing", "rate limited")


def test_abort_error_fails_the_session() -> None:
    state = apply_event(fresh(), event("error", error_message="tool down", recovery_strategy="abort"), NOW)
    assert (state.status, state.completed_at) == ("failed", NOW)


def test_failed_completion_records_the_error() -> None:
    state = apply_event(fresh(), event("session_completed", status="failed"), NOW)
    assert (state.status, state.error_message) == ("failed", "Agent run failed")


@pytest.mark.parametrize("terminal", ["completed", "failed"])
def test_any_event_after_a_terminal_state_is_refused(terminal: str) -> None:
    ended = SessionState(**{**fresh().__dict__, "status": terminal})
    with pytest.raises(AppError) as raised:
        apply_event(ended, event("tool_called", tool_name="search"), NOW)
    assert raised.value.code is ErrorCode.SESSION_ENDED


def test_tool_events_leave_the_state_unchanged() -> None:
    state = fresh()
    assert apply_event(state, event("tool_result", tool_name="search", status="success"), NOW) == state
