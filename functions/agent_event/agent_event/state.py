"""The session state machine: how each §6 event moves a session's status, step and progress."""

from dataclasses import replace
from datetime import datetime

from agent_event.schemas import EventRequest
from agentmode.errors import AppError, ErrorCode
from agentmode.session_log import SessionState
from agentmode.sessions import AWAITING_INPUT, COMPLETED, FAILED, STEPS_BY_NAME, TERMINAL_STATUSES, TOTAL_STEPS, EventKind

# Progress reaches 100 only when the session completes, so a client never sees 100 % on a run still going.
MAX_RUNNING_PROGRESS = 99


def _overall_progress(completed: int, step_fraction: float = 0.0) -> int:
    return min(MAX_RUNNING_PROGRESS, int((completed + step_fraction) * 100 / TOTAL_STEPS))


def _enter_step(state: SessionState, step_name: str) -> SessionState:
    step = STEPS_BY_NAME[step_name]
    return replace(state, status=step.status, current_step=step.name, current_step_index=step.index)


def apply_event(state: SessionState, event: EventRequest, now: datetime) -> SessionState:
    """The state after `event`; raises SESSION_ENDED for any event after a terminal state."""
    if state.status in TERMINAL_STATUSES:
        raise AppError(ErrorCode.SESSION_ENDED, details={"status": state.status})
    kind = event.action_type
    if kind is EventKind.STEP_STARTED:
        assert event.step_name is not None
        return _enter_step(state, event.step_name)
    if kind is EventKind.STEP_PROGRESS:
        assert event.step_name is not None
        assert event.progress_percentage is not None
        moved = _enter_step(state, event.step_name)
        # A step already completed is already counted whole: a late (or re-run) report of it adds nothing.
        share = 0.0 if event.step_name in state.completed_steps else event.progress_percentage / 100
        progress = _overall_progress(len(state.completed_steps), share)
        return replace(moved, progress_percentage=max(state.progress_percentage, progress))
    if kind is EventKind.STEP_COMPLETED:
        assert event.step_name is not None
        moved = _enter_step(state, event.step_name)
        completed = state.completed_steps + ((event.step_name,) if event.step_name not in state.completed_steps else ())
        progress = max(state.progress_percentage, _overall_progress(len(completed)))
        return replace(moved, completed_steps=completed, progress_percentage=progress)
    if kind is EventKind.USER_INPUT_REQUIRED:
        return replace(state, status=AWAITING_INPUT)
    if kind is EventKind.ERROR:
        if event.recovery_strategy == "abort":
            return replace(state, status=FAILED, error_message=event.error_message, completed_at=now)
        return replace(state, error_message=event.error_message)
    if kind is EventKind.SESSION_COMPLETED:
        if event.status == "success":
            return replace(
                state, status=COMPLETED, progress_percentage=100, result=event.result, error_message=None, completed_at=now
            )
        return replace(
            state, status=FAILED, result=event.result, error_message=event.error_message or "Agent run failed", completed_at=now
        )
    return state
