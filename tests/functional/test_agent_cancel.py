"""POST /agent/cancel: the session's user ends a run as `cancelled` (terminal); a session_cancelled event is logged
and broadcast, the runner told, the credits settled (refunded in full before step 6), all once."""

from typing import Any

import psycopg
import pytest

from tests.factories import User, create_user
from tests.runner_support import (
    Runner,
    RunnerQueueReader,
    ask,
    cancel,
    in_parallel,
    load_functions,
    logged_events,
    post_event,
    questions_of,
    runner_for,
    session_row,
)

CHARGE = 3


@pytest.fixture
def runner(admin: psycopg.Connection[Any], user: User) -> Runner:
    admin.execute("UPDATE agentmode.credit_balances SET balance = balance - %s WHERE user_id = %s", (CHARGE, user.id))
    return runner_for(admin, user, credits_charged=CHARGE)


def balance(admin: psycopg.Connection[Any], user: User) -> int:
    row = admin.execute("SELECT balance FROM agentmode.credit_balances WHERE user_id = %s", (user.id,)).fetchone()
    assert row is not None
    return int(row[0])


def reach_step(runner: Runner, step_name: str) -> None:
    assert post_event(runner, runner.session_id, "step_started", step_name=step_name).status == 200


def test_cancel_ends_the_run_as_cancelled(
    admin: psycopg.Connection[Any], user: User, runner: Runner, runner_queue: RunnerQueueReader
) -> None:
    reach_step(runner, "Research competitors")

    result = cancel(user, runner.session_id)

    assert result.status == 200
    assert result.body == {"session_id": str(runner.session_id), "status": "cancelled", "seq": 2, "credits_refunded": CHARGE}
    row = session_row(admin, runner.session_id)
    assert (row["status"], row["cancelled_at"] is not None, row["completed_at"] is not None) == ("cancelled", True, True)


def test_cancel_logs_a_session_cancelled_event(
    admin: psycopg.Connection[Any], user: User, runner: Runner, runner_queue: RunnerQueueReader
) -> None:
    reach_step(runner, "Research competitors")

    cancel(user, runner.session_id)

    last = logged_events(admin, runner.session_id)[-1]
    assert (last["event"], last["seq"], last["reason"], last["step_name"]) == (
        "session_cancelled",
        2,
        "user",
        "Research competitors",
    )


def test_cancel_tells_the_runner_in_the_sessions_message_group(
    user: User, runner: Runner, runner_queue: RunnerQueueReader
) -> None:
    cancel(user, runner.session_id)

    [(group, message)] = runner_queue.receive()
    assert group == str(runner.session_id)
    assert message.model_dump(mode="json") == {"version": 1, "type": "cancel", "session_id": str(runner.session_id),
                                               "reason": "user"}  # fmt: skip


def test_a_run_cancelled_before_step_6_is_refunded_in_full(
    admin: psycopg.Connection[Any], user: User, runner: Runner, runner_queue: RunnerQueueReader
) -> None:
    reach_step(runner, "Generate scripts")
    before = balance(admin, user)

    cancel(user, runner.session_id)

    assert balance(admin, user) == before + CHARGE
    assert session_row(admin, runner.session_id)["credits_refunded"] == CHARGE


def test_a_run_cancelled_once_videos_are_generating_keeps_its_charge(
    admin: psycopg.Connection[Any], user: User, runner: Runner, runner_queue: RunnerQueueReader
) -> None:
    reach_step(runner, "Generate videos")
    before = balance(admin, user)

    result = cancel(user, runner.session_id)

    assert result.body["credits_refunded"] == 0
    assert balance(admin, user) == before


def test_a_second_cancel_is_refused_and_refunds_nothing_more(
    admin: psycopg.Connection[Any], user: User, runner: Runner, runner_queue: RunnerQueueReader
) -> None:
    cancel(user, runner.session_id)
    after_first = balance(admin, user)

    result = cancel(user, runner.session_id)

    assert (result.status, result.body["error_code"]) == (409, "SESSION_ENDED")
    assert balance(admin, user) == after_first


def test_concurrent_cancels_cancel_and_refund_once(
    admin: psycopg.Connection[Any], user: User, runner: Runner, runner_queue: RunnerQueueReader
) -> None:
    load_functions("agent_control")
    before = balance(admin, user)

    statuses = in_parallel(*(lambda: cancel(user, runner.session_id).status for _ in range(3)))

    assert sorted(statuses) == [200, 409, 409]
    assert balance(admin, user) == before + CHARGE
    assert [e["event"] for e in logged_events(admin, runner.session_id)] == ["session_cancelled"]
    assert len(runner_queue.receive()) == 1


def test_a_completed_run_cannot_be_cancelled(
    admin: psycopg.Connection[Any], user: User, runner: Runner, runner_queue: RunnerQueueReader
) -> None:
    post_event(runner, runner.session_id, "session_completed", status="success", result={"videos": []})

    result = cancel(user, runner.session_id)

    assert (result.status, result.body["error_code"]) == (409, "SESSION_ENDED")
    assert session_row(admin, runner.session_id)["status"] == "completed"
    assert runner_queue.receive() == []


def test_cancelling_closes_the_open_question(
    admin: psycopg.Connection[Any], user: User, runner: Runner, runner_queue: RunnerQueueReader
) -> None:
    ask(runner, runner.session_id)

    cancel(user, runner.session_id)

    assert questions_of(admin, runner.session_id)[0]["answered_by"] == "cancelled"


def test_another_users_run_is_not_found(admin: psycopg.Connection[Any], runner: Runner, runner_queue: RunnerQueueReader) -> None:
    result = cancel(create_user(admin), runner.session_id)

    assert (result.status, result.body["error_code"]) == (404, "SESSION_NOT_FOUND")
    assert session_row(admin, runner.session_id)["status"] == "initializing"


def test_a_runner_cannot_end_its_run_as_cancelled_through_an_event(
    admin: psycopg.Connection[Any], user: User, runner: Runner
) -> None:
    result = post_event(runner, runner.session_id, "session_cancelled")

    assert result.status == 400
    assert session_row(admin, runner.session_id)["status"] == "initializing"
