"""SQS failing, throttling or hung: POST /agent/start answers 503 and consumes nothing (no session, credit or run);
POST /agent/respond and /agent/cancel answer 503 and change nothing (the question stays open, the run goes on).

Already covered in tests/functional/test_agent_start.py: test_queue_failure_answers_503_and_leaves_nothing (a queue
that does not exist, through moto). Here the real SqsQueue of AGENT_QUEUE_URL (its timeouts and retries) talks to a
loopback SQS endpoint (AWS_ENDPOINT_URL_SQS, SQS's JSON protocol): 5xx, throttling, a black
hole, and recovery with the same Idempotency-Key.
"""

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.factories import User
from tests.faults.conftest import Configure
from tests.faults.stubs import BlackHole, Reply, Request, ScriptedServer, json_reply
from tests.faults.support import assert_unavailable, count, lambda_timeout, rate_limit_hits, timed
from tests.lambda_invoke import Result, invoke
from tests.runner_support import Runner, ask, cancel, logged_events, questions_of, respond, runner_for, session_row

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/agent-queue"
GOAL = {"goal": "Generate video ads for my SaaS product", "constraints": {"max_videos": 3}}
INTERNAL_ERROR = json_reply({"__type": "com.amazonaws.sqs#InternalError", "message": "We encountered an internal error."}, 500)
THROTTLED = json_reply({"__type": "com.amazonaws.sqs#RequestThrottled", "message": "Rate exceeded."}, 400)


def sent(request: Request) -> Reply:
    """SendMessage's documented success; SqsQueue checks MD5OfMessageBody against what it sent."""
    body = json.loads(request.body)["MessageBody"]
    return json_reply({"MD5OfMessageBody": hashlib.md5(body.encode()).hexdigest(), "MessageId": "m-1"})  # noqa: S324 - SQS's


class Sqs(ScriptedServer):
    def __init__(self) -> None:
        self.failure: Reply | None = INTERNAL_ERROR
        super().__init__(lambda request, index: self.failure or sent(request))


@pytest.fixture
def sqs(configure: Configure, aws: None) -> Iterator[Sqs]:
    server = Sqs()
    configure(AGENT_QUEUE_URL=QUEUE_URL, AWS_ENDPOINT_URL_SQS=server.url)
    yield server
    server.close()


def start(user: User, key: str = "fault-1") -> Result:
    return invoke("POST", "/agent/start", headers={**user.auth, "Idempotency-Key": key}, json_body=GOAL)


def assert_nothing_consumed(admin: psycopg.Connection[Any], user: User) -> None:
    assert count(admin, "SELECT count(*) FROM agentmode.agent_sessions WHERE user_id = %s", user.id) == 0
    assert count(admin, "SELECT balance FROM agentmode.credit_balances WHERE user_id = %s", user.id) == 100
    assert rate_limit_hits(admin, user.id, "agent_start") == 0


@pytest.mark.parametrize("failure", [INTERNAL_ERROR, THROTTLED], ids=["5xx", "throttled"])
def test_failing_sqs_is_retried_once_then_503_and_consumes_nothing(
    admin: psycopg.Connection[Any], user: User, sqs: Sqs, failure: Reply
) -> None:
    sqs.failure = failure
    result, elapsed = timed(lambda: start(user))
    assert_unavailable(result, "agent_queue")
    assert len(sqs.requests) == 2  # SqsQueue: max_attempts 2
    assert_nothing_consumed(admin, user)
    assert elapsed < 3.0


def test_hung_sqs_is_503_before_the_function_timeout_and_consumes_nothing(
    admin: psycopg.Connection[Any], user: User, configure: Configure, aws: None
) -> None:
    hole = BlackHole()
    configure(AGENT_QUEUE_URL=QUEUE_URL, AWS_ENDPOINT_URL_SQS=hole.url)
    try:
        result, elapsed = timed(lambda: start(user))
    finally:
        hole.close()
    assert_unavailable(result, "agent_queue")
    assert hole.accepted == 2
    assert_nothing_consumed(admin, user)
    # Two attempts of SqsQueue's 3 s read timeout, plus a backoff: inside the 10 s Timeout, with room for the database.
    assert elapsed < 0.8 * lambda_timeout("POST", "/agent/start")


def test_an_sqs_answer_for_another_body_is_503_and_consumes_nothing(admin: psycopg.Connection[Any], user: User, sqs: Sqs) -> None:
    """The MD5 SQS returns is of the body it stored: one that differs is not our message sent."""
    sqs.failure = json_reply({"MD5OfMessageBody": hashlib.md5(b"other").hexdigest(), "MessageId": "m-1"})  # noqa: S324
    assert_unavailable(start(user), "agent_queue")
    assert_nothing_consumed(admin, user)


def test_after_sqs_recovers_the_retried_start_is_created_and_charged_once(
    admin: psycopg.Connection[Any], user: User, sqs: Sqs
) -> None:
    assert_unavailable(start(user), "agent_queue")
    sqs.failure = None
    created = start(user)
    assert created.status == 201
    replayed = start(user)
    assert (replayed.status, replayed.body["session_id"]) == (200, created.body["session_id"])
    sessions = admin.execute("SELECT id::text FROM agentmode.agent_sessions WHERE user_id = %s", (user.id,)).fetchall()
    assert sessions == [(created.body["session_id"],)]
    assert count(admin, "SELECT balance FROM agentmode.credit_balances WHERE user_id = %s", user.id) == 97
    assert rate_limit_hits(admin, user.id, "agent_start") == 1
    queued = [json.loads(json.loads(r.body)["MessageBody"])["session_id"] for r in sqs.requests[-1:]]
    assert queued == [created.body["session_id"]]


@pytest.fixture
def asked(admin: psycopg.Connection[Any], user: User) -> tuple[Runner, int]:
    """A run whose agent asked the user a question (events need no SQS)."""
    runner = runner_for(admin, user, credits_charged=3)
    asked = ask(runner, runner.session_id)
    assert asked.status == 200
    return runner, int(asked.body["seq"])


def test_sqs_failing_on_an_answer_is_503_and_leaves_the_question_open(
    admin: psycopg.Connection[Any], user: User, sqs: Sqs, asked: tuple[Runner, int]
) -> None:
    runner, seq = asked

    assert_unavailable(respond(user, runner.session_id, seq, "concept_1"), "agent_queue")

    assert questions_of(admin, runner.session_id)[0]["answered_at"] is None
    assert [event["event"] for event in logged_events(admin, runner.session_id)] == ["user_input_required"]
    sqs.failure = None
    assert respond(user, runner.session_id, seq, "concept_1").status == 200


def test_sqs_failing_on_a_cancel_is_503_and_leaves_the_run_going(
    admin: psycopg.Connection[Any], user: User, sqs: Sqs, asked: tuple[Runner, int]
) -> None:
    runner, _ = asked
    balance = count(admin, "SELECT balance FROM agentmode.credit_balances WHERE user_id = %s", user.id)

    assert_unavailable(cancel(user, runner.session_id), "agent_queue")

    assert session_row(admin, runner.session_id)["status"] == "awaiting_input"
    assert count(admin, "SELECT balance FROM agentmode.credit_balances WHERE user_id = %s", user.id) == balance
    assert [event["event"] for event in logged_events(admin, runner.session_id)] == ["user_input_required"]
    sqs.failure = None
    assert cancel(user, runner.session_id).status == 200
