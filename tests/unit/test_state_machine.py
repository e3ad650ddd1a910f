"""The session state machine of POST /agent/event (seed 001 §6)."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from agent_event.schemas import EventRequest
from agent_event.state import SessionState, apply_event
from agentmode.errors import AppError, ErrorCode
from agentmode.sessions import STEPS, EventKind

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


def completed_through(steps: int) -> SessionState:
    state = fresh()
    for step in STEPS[:steps]:
        state = apply_event(state, event("step_completed", step_name=step.name), NOW)
    return state


@pytest.mark.parametrize(("completed", "progress"), [(1, 12), (2, 25), (3, 37), (4, 50), (5, 62), (6, 75), (7, 87)])
def test_each_completed_step_is_an_eighth_of_the_run_rounded_down(completed: int, progress: int) -> None:
    assert completed_through(completed).progress_percentage == progress


@pytest.mark.parametrize(("step_percentage", "progress"), [(99, 24), (100, 25)])
def test_the_running_step_adds_its_share_rounded_down(step_percentage: int, progress: int) -> None:
    state = apply_event(
        completed_through(1),
        event("step_progress", step_name="Research competitors", progress_percentage=step_percentage),
        NOW,
    )
    assert state.progress_percentage == progress


def test_a_repeated_step_completed_never_moves_progress_backwards() -> None:
    state = apply_event(
        completed_through(1), event("step_progress", step_name="Research competitors", progress_percentage=90), NOW
    )
    repeated = apply_event(state, event("step_completed", step_name="Analyze brand memory"), NOW)
    assert (state.progress_percentage, repeated.progress_percentage) == (23, 23)
    assert repeated.completed_steps == ("Analyze brand memory",)


def test_progress_of_a_step_already_completed_adds_nothing() -> None:
    state = apply_event(completed_through(3), event("step_progress", step_name="Analyze trends", progress_percentage=100), NOW)
    assert state.progress_percentage == 37


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


@pytest.mark.parametrize("strategy", ["retry_after_delay", "retry", "skip", None])
def test_an_error_without_abort_keeps_the_run_going(strategy: str | None) -> None:
    running = apply_event(fresh(), event("step_started", step_name="Generate concepts"), NOW)
    state = apply_event(running, event("error", error_message="rate limited", recovery_strategy=strategy), NOW)
    assert (state.status, state.error_message, state.completed_at) == ("generating_concepts", "rate limited", None)


def test_abort_error_fails_the_session() -> None:
    state = apply_event(fresh(), event("error", error_message="tool down", recovery_strategy="abort"), NOW)
    assert (state.status, state.error_message, state.completed_at) == ("failed", "tool down", NOW)


def test_a_successful_completion_clears_an_earlier_error() -> None:
    state = apply_event(fresh(), event("error", error_message="rate limited", recovery_strategy="retry"), NOW)
    done = apply_event(state, event("session_completed", status="success"), NOW)
    assert (done.status, done.error_message) == ("completed", None)


def test_failed_completion_records_the_error() -> None:
    state = apply_event(fresh(), event("session_completed", status="failed", result={"videos_generated": 1}), NOW)
    assert (state.status, state.error_message, state.result, state.completed_at) == (
        "failed",
        "Agent run failed",
        {"videos_generated": 1},
        NOW,
    )


def test_failed_completion_keeps_the_agents_own_message() -> None:
    state = apply_event(fresh(), event("session_completed", status="failed", error_message="no videos rendered"), NOW)
    assert state.error_message == "no videos rendered"


def test_only_a_success_completion_completes_the_run() -> None:
    # The schema refuses session_completed with status "error" (tests/unit/test_event_schema.py); the state machine
    # must not count it as success either, should it ever get one.
    unvalidated = EventRequest.model_construct(session_id=uuid.uuid4(), action_type=EventKind.SESSION_COMPLETED, status="error")
    state = apply_event(completed_through(2), unvalidated, NOW)
    assert (state.status, state.progress_percentage, state.error_message) == ("failed", 25, "Agent run failed")


@pytest.mark.parametrize("terminal", ["completed", "failed"])
def test_any_event_after_a_terminal_state_is_refused(terminal: str) -> None:
    ended = SessionState(**{**fresh().__dict__, "status": terminal})
    with pytest.raises(AppError) as raised:
        apply_event(ended, event("tool_called", tool_name="search"), NOW)
    assert (raised.value.code, raised.value.details) == (ErrorCode.SESSION_ENDED, {"status": terminal})


def test_tool_events_leave_the_state_unchanged() -> None:
    state = fresh()
    assert apply_event(state, event("tool_result", tool_name="search", status="success"), NOW) == state


def test_a_session_row_becomes_its_state() -> None:
    row = {
        "status": "generating_scripts",
        "current_step": "Generate scripts",
        "current_step_index": 5,
        "progress_percentage": 50,
        "completed_steps": ["Analyze brand memory", "Research competitors", "Analyze trends", "Generate concepts"],
        "error_message": "rate limited",
        "result": {"draft": True},
        "completed_at": None,
        "last_seq": 9,
    }
    state = SessionState.from_row(row)
    assert state == SessionState(
        status="generating_scripts",
        current_step="Generate scripts",
        current_step_index=5,
        progress_percentage=50,
        completed_steps=("Analyze brand memory", "Research competitors", "Analyze trends", "Generate concepts"),
        error_message="rate limited",
        result={"draft": True},
        completed_at=None,
    )
