"""POST /agent/respond: the session's user answers the agent's open question (seed 001 §6 user_input_required) with
one of its options, exactly once, racing its timeout; the answer is logged, broadcast and sent to the runner."""

import uuid
from typing import Any

import psycopg
import pytest

from tests.factories import User, create_user
from tests.lambda_invoke import Result
from tests.runner_support import (
    QUESTION,
    Runner,
    RunnerQueueReader,
    ask,
    in_parallel,
    load_functions,
    logged_events,
    make_due,
    post_event,
    questions_of,
    respond,
    run_sweeper,
    runner_for,
    session_row,
)


@pytest.fixture
def runner(admin: psycopg.Connection[Any], user: User) -> Runner:
    runner = runner_for(admin, user)
    assert post_event(runner, runner.session_id, "step_started", step_name="Generate concepts").status == 200
    return runner


@pytest.fixture
def question_seq(runner: Runner) -> int:
    asked = ask(runner, runner.session_id)
    assert asked.status == 200
    return int(asked.body["seq"])


def assert_question_closed(result: Result, reason: str) -> None:
    assert result.status == 409, result.body
    assert (result.body["error_code"], result.body["details"]["reason"]) == ("QUESTION_CLOSED", reason)


def test_an_answer_closes_the_question_and_resumes_the_step(
    admin: psycopg.Connection[Any], user: User, runner: Runner, question_seq: int, runner_queue: RunnerQueueReader
) -> None:
    result = respond(user, runner.session_id, question_seq, "concept_1")

    assert result.status == 200
    assert result.body == {"session_id": str(runner.session_id), "question_seq": question_seq, "value": "concept_1",
                           "answered_by": "user", "seq": question_seq + 1, "session_status": "generating_concepts"}  # fmt: skip
    [question] = questions_of(admin, runner.session_id)
    assert (question["answer"], question["answered_by"], question["response_seq"]) == ("concept_1", "user", question_seq + 1)
    assert session_row(admin, runner.session_id)["status"] == "generating_concepts"


def test_an_answer_is_logged_as_a_user_response_event(
    admin: psycopg.Connection[Any], user: User, runner: Runner, question_seq: int, runner_queue: RunnerQueueReader
) -> None:
    respond(user, runner.session_id, question_seq, "concept_1")

    last = logged_events(admin, runner.session_id)[-1]
    assert {key: last[key] for key in ("event", "seq", "question_seq", "value", "label", "answered_by")} == {
        "event": "user_response", "seq": question_seq + 1, "question_seq": question_seq, "value": "concept_1",
        "label": "Bold", "answered_by": "user"}  # fmt: skip


def test_an_answer_reaches_the_runner_in_the_sessions_message_group(
    user: User, runner: Runner, question_seq: int, runner_queue: RunnerQueueReader
) -> None:
    respond(user, runner.session_id, question_seq, "concept_1")

    [(group, message)] = runner_queue.receive()
    assert group == str(runner.session_id)
    assert message.model_dump(mode="json") == {
        "version": 1, "type": "answer", "session_id": str(runner.session_id), "question_seq": question_seq,
        "value": "concept_1", "answered_by": "user"}  # fmt: skip


def test_a_value_the_question_did_not_offer_is_refused_and_changes_nothing(
    admin: psycopg.Connection[Any], user: User, runner: Runner, question_seq: int, runner_queue: RunnerQueueReader
) -> None:
    result = respond(user, runner.session_id, question_seq, "concept_9")

    assert result.status == 400
    assert result.body["error_code"] == "VALIDATION_ERROR"
    assert "concept_1, agent_decide" in result.body["details"]["errors"][0]["message"]
    assert questions_of(admin, runner.session_id)[0]["answered_at"] is None
    assert logged_events(admin, runner.session_id)[-1]["seq"] == question_seq
    assert runner_queue.receive() == []


def test_a_second_answer_is_refused(
    admin: psycopg.Connection[Any], user: User, runner: Runner, question_seq: int, runner_queue: RunnerQueueReader
) -> None:
    respond(user, runner.session_id, question_seq, "concept_1")

    assert_question_closed(respond(user, runner.session_id, question_seq, "agent_decide"), "not_open")
    assert questions_of(admin, runner.session_id)[0]["answer"] == "concept_1"


def test_an_answer_to_an_earlier_question_is_refused(
    admin: psycopg.Connection[Any], user: User, runner: Runner, question_seq: int, runner_queue: RunnerQueueReader
) -> None:
    assert_question_closed(respond(user, runner.session_id, question_seq - 1, "concept_1"), "not_open")
    assert questions_of(admin, runner.session_id)[0]["answered_at"] is None


def test_an_answer_without_a_question_is_refused(user: User, runner: Runner, runner_queue: RunnerQueueReader) -> None:
    assert_question_closed(respond(user, runner.session_id, 2, "concept_1"), "not_open")


def test_an_answer_after_the_timeout_is_refused_and_the_timeouts_answer_stands(
    admin: psycopg.Connection[Any], user: User, runner: Runner, question_seq: int, runner_queue: RunnerQueueReader
) -> None:
    make_due(admin, runner.session_id)

    assert_question_closed(respond(user, runner.session_id, question_seq, "concept_1"), "timed_out")
    [question] = questions_of(admin, runner.session_id)
    assert (question["answer"], question["answered_by"]) == ("agent_decide", "timeout")
    assert [m.model_dump()["answered_by"] for _, m in runner_queue.receive()] == ["timeout"]


def test_another_users_session_is_not_found(
    admin: psycopg.Connection[Any], runner: Runner, question_seq: int, runner_queue: RunnerQueueReader
) -> None:
    stranger = create_user(admin)

    result = respond(stranger, runner.session_id, question_seq, "concept_1")

    assert result.status == 404
    assert questions_of(admin, runner.session_id)[0]["answered_at"] is None


def test_a_malformed_session_id_is_a_validation_error(user: User) -> None:
    result = respond(user, "not-a-uuid", 1, "x")  # type: ignore[arg-type]

    assert (result.status, result.body["error_code"]) == (400, "VALIDATION_ERROR")


def test_a_question_seq_beyond_any_seq_is_a_validation_error_and_changes_nothing(
    admin: psycopg.Connection[Any], user: User, runner: Runner, question_seq: int, runner_queue: RunnerQueueReader
) -> None:
    """Found by the fuzzer: a number past Postgres' bigint was a 500 from the database's cast."""
    result = respond(user, runner.session_id, 2**63, "concept_1")

    assert (result.status, result.body["error_code"]) == (400, "VALIDATION_ERROR")
    assert questions_of(admin, runner.session_id)[0]["answered_at"] is None
    assert runner_queue.receive() == []


def test_a_second_question_while_one_is_open_is_refused(
    admin: psycopg.Connection[Any], runner: Runner, question_seq: int
) -> None:
    result = ask(runner, runner.session_id, question="And the music?")

    assert result.status == 409
    assert result.body["error_code"] == "QUESTION_PENDING"
    assert logged_events(admin, runner.session_id)[-1]["seq"] == question_seq
    assert len(questions_of(admin, runner.session_id)) == 1


def test_a_question_without_agent_decide_defaults_to_its_first_option(
    admin: psycopg.Connection[Any], runner: Runner, runner_queue: RunnerQueueReader
) -> None:
    ask(runner, runner.session_id, options=[{"value": "a", "label": "A"}, {"value": "b", "label": "B"}])
    make_due(admin, runner.session_id)

    run_sweeper()

    assert questions_of(admin, runner.session_id)[0]["answer"] == "a"


def test_concurrent_answers_close_the_question_once(
    admin: psycopg.Connection[Any], user: User, runner: Runner, question_seq: int, runner_queue: RunnerQueueReader
) -> None:
    load_functions("agent_control")

    results = in_parallel(*(lambda v=value: respond(user, runner.session_id, question_seq, v).status
                            for value in ("concept_1", "agent_decide") * 2))  # fmt: skip

    assert sorted(results) == [200, 409, 409, 409]
    assert [e["event"] for e in logged_events(admin, runner.session_id)].count("user_response") == 1
    assert len(runner_queue.receive()) == 1


def test_an_answer_racing_the_timeout_closes_the_question_exactly_once(
    admin: psycopg.Connection[Any], user: User, runner: Runner, question_seq: int, runner_queue: RunnerQueueReader
) -> None:
    """The timeout passes as the answer arrives: the answer and two overlapping sweeps race for the question."""
    make_due(admin, runner.session_id)
    load_functions("agent_control", "run_sweeper")

    answer, *_ = in_parallel(lambda: respond(user, runner.session_id, question_seq, "concept_1"), run_sweeper, run_sweeper)

    # Late either way: it found the timeout due (and recorded it), or a sweep had already closed the question.
    assert isinstance(answer, Result)
    assert answer.status == 409
    assert answer.body["details"]["reason"] in {"timed_out", "not_open"}
    responses = [e for e in logged_events(admin, runner.session_id) if e["event"] == "user_response"]
    assert [(e["value"], e["answered_by"]) for e in responses] == [("agent_decide", "timeout")]
    assert [m.model_dump()["answered_by"] for _, m in runner_queue.receive()] == ["timeout"]


def test_a_runner_credential_cannot_answer(admin: psycopg.Connection[Any], runner: Runner, question_seq: int) -> None:
    result = respond(User(uuid.uuid4(), runner.token), runner.session_id, question_seq, "concept_1")

    assert result.status == 401
    assert questions_of(admin, runner.session_id)[0]["answered_at"] is None


def test_the_default_timeout_applies_when_the_question_names_none(admin: psycopg.Connection[Any], runner: Runner) -> None:
    ask(runner, runner.session_id, timeout_ms=None)

    [question] = questions_of(admin, runner.session_id)
    assert 299 <= (question["timeout_at"] - question["asked_at"]).total_seconds() <= 301
    assert question["options"] == QUESTION["options"]
