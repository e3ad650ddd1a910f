"""The run sweeper (EventBridge, every minute): closes questions whose timeout passed, ends runs with no event for
RUN_STALL_TIMEOUT_SECONDS or past their deadline (an error event, then the failed completion), each exactly once."""

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from tests.factories import User
from tests.runner_support import (
    Runner,
    RunnerQueueReader,
    ask,
    in_parallel,
    load_functions,
    logged_events,
    make_due,
    make_quiet,
    post_event,
    questions_of,
    run_sweeper,
    runner_for,
    session_row,
)

STALL = 600


@pytest.fixture
def runner(admin: psycopg.Connection[Any], user: User) -> Runner:
    runner = runner_for(admin, user)
    assert post_event(runner, runner.session_id, "step_started", step_name="Research competitors").status == 200
    return runner


def kinds(admin: psycopg.Connection[Any], runner: Runner) -> list[str]:
    return [event["event"] for event in logged_events(admin, runner.session_id)]


def test_a_stalled_run_ends_with_an_error_then_a_failed_completion(
    admin: psycopg.Connection[Any], runner: Runner, runner_queue: RunnerQueueReader
) -> None:
    make_quiet(admin, runner.session_id, STALL + 1)

    report = run_sweeper()

    assert report["runs_stalled"] == 1
    error, completion = logged_events(admin, runner.session_id)[1:]
    assert (error["event"], error["recovery_strategy"], error["reason"]) == ("error", "abort", "stalled")
    assert error["error_message"] == "The run stalled: no event for 600 seconds."
    assert (completion["event"], completion["status"], completion["seq"]) == ("session_completed", "failed", 3)
    row = session_row(admin, runner.session_id)
    assert (row["status"], row["error_message"]) == ("failed", error["error_message"])


def test_the_runner_of_a_stalled_run_is_told_to_stop(
    admin: psycopg.Connection[Any], runner: Runner, runner_queue: RunnerQueueReader
) -> None:
    make_quiet(admin, runner.session_id, STALL + 1)

    run_sweeper()

    assert [(m.type, m.model_dump().get("reason")) for _, m in runner_queue.receive()] == [("cancel", "stalled")]


def test_a_run_past_its_deadline_ends_even_while_it_reports(
    admin: psycopg.Connection[Any], runner: Runner, runner_queue: RunnerQueueReader
) -> None:
    admin.execute("UPDATE agentmode.agent_sessions SET deadline_at = now() - interval '1 second' WHERE id = %s",
                  (runner.session_id,))  # fmt: skip

    report = run_sweeper()

    assert report["runs_past_deadline"] == 1
    assert logged_events(admin, runner.session_id)[1]["reason"] == "deadline"
    assert session_row(admin, runner.session_id)["status"] == "failed"


def test_a_run_that_reported_within_the_stall_timeout_is_left_alone(
    admin: psycopg.Connection[Any], runner: Runner, runner_queue: RunnerQueueReader
) -> None:
    make_quiet(admin, runner.session_id, STALL - 30)

    run_sweeper()

    assert kinds(admin, runner) == ["step_started"]
    assert runner_queue.receive() == []


def test_a_run_waiting_for_an_answer_is_not_stalled_before_the_questions_timeout(
    admin: psycopg.Connection[Any], runner: Runner, runner_queue: RunnerQueueReader
) -> None:
    ask(runner, runner.session_id, timeout_ms=3_600_000)
    make_quiet(admin, runner.session_id, STALL + 1)

    run_sweeper()

    assert kinds(admin, runner) == ["step_started", "user_input_required"]


def test_a_due_question_closes_with_agent_decide(
    admin: psycopg.Connection[Any], runner: Runner, runner_queue: RunnerQueueReader
) -> None:
    ask(runner, runner.session_id)
    make_due(admin, runner.session_id)

    report = run_sweeper()

    assert report["questions_timed_out"] == 1
    response = logged_events(admin, runner.session_id)[-1]
    assert (response["event"], response["value"], response["answered_by"], response["question_seq"]) == (
        "user_response", "agent_decide", "timeout", 2)  # fmt: skip
    assert session_row(admin, runner.session_id)["status"] == "researching_competitors"
    [(_, message)] = runner_queue.receive()
    assert (message.type, message.model_dump()["value"]) == ("answer", "agent_decide")


def test_a_question_not_yet_due_stays_open(
    admin: psycopg.Connection[Any], runner: Runner, runner_queue: RunnerQueueReader
) -> None:
    ask(runner, runner.session_id)

    run_sweeper()

    assert questions_of(admin, runner.session_id)[0]["answered_at"] is None


def test_overlapping_sweeps_end_a_stalled_run_once(
    admin: psycopg.Connection[Any], runner: Runner, runner_queue: RunnerQueueReader
) -> None:
    make_quiet(admin, runner.session_id, STALL + 1)
    load_functions("run_sweeper")

    reports = in_parallel(run_sweeper, run_sweeper, run_sweeper)

    assert sum(report["runs_stalled"] for report in reports) == 1
    assert kinds(admin, runner) == ["step_started", "error", "session_completed"]
    assert len(runner_queue.receive()) == 1


def test_a_run_that_reports_as_the_sweep_looks_is_left_alone(
    admin: psycopg.Connection[Any], runner: Runner, runner_queue: RunnerQueueReader
) -> None:
    """Found quiet, then an event lands before the sweep takes the session's lock: the re-check under the lock sees it."""
    from run_sweeper.stalled import why_due

    make_quiet(admin, runner.session_id, STALL + 1)
    post_event(runner, runner.session_id, "reasoning_update", reasoning="still here")
    session = session_row(admin, runner.session_id)

    assert why_due(admin, session, timedelta(seconds=STALL), datetime.now(UTC)) is None
