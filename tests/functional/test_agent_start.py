"""POST /agent/start through its deployed handler against the embedded Postgres (seed 001 §1, §7, §8)."""

import asyncio
import threading
import time
from typing import Any

import psycopg
import pytest

import agent_start.service as start_service
import agentmode.runner_queue as queue_client
from agentmode import db
from agentmode.runner_queue import AnswerMessage, CancelMessage, StartMessage
from tests.factories import User, add_memory, create_user
from tests.lambda_invoke import Result, invoke
from tests.runner_support import RunnerQueueReader, fifo_queue

GOAL = {"goal": "Generate video ads for my SaaS product"}


def start(user: User, body: dict[str, Any] | None = None, **headers: str) -> Result:
    return invoke("POST", "/agent/start", headers={**user.auth, **headers}, json_body=GOAL if body is None else body)


def sessions_of(admin: psycopg.Connection[Any], user: User) -> list[tuple[Any, ...]]:
    return admin.execute(
        "SELECT id, status, credits_charged FROM agentmode.agent_sessions WHERE user_id = %s", (user.id,)
    ).fetchall()


def balance_of(admin: psycopg.Connection[Any], user: User) -> int:
    return int(admin.execute("SELECT balance FROM agentmode.credit_balances WHERE user_id = %s", (user.id,)).fetchone()[0])


@pytest.fixture
def sqs_queue(monkeypatch: pytest.MonkeyPatch, sqs_endpoint: str) -> RunnerQueueReader:
    """A FIFO queue on moto's SQS server wired in as AGENT_QUEUE_URL, as template.yaml wires the real one."""
    return fifo_queue(monkeypatch, sqs_endpoint)


@pytest.fixture(autouse=True)
def log_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue_client, "_queue", queue_client.LogQueue())


def test_start_creates_an_initializing_session_with_the_eight_steps(admin: psycopg.Connection[Any], user: User) -> None:
    result = start(user)
    assert result.status == 201
    assert result.body["status"] == "initializing"
    assert result.body["estimated_completion_time_ms"] == 300_000
    assert [s["step_name"] for s in result.body["steps"]][:2] == ["Analyze brand memory", "Research competitors"]
    assert len(result.body["steps"]) == 8
    assert [str(row[0]) for row in sessions_of(admin, user)] == [result.body["session_id"]]


def test_start_stores_the_request_as_session_data(admin: psycopg.Connection[Any], user: User) -> None:
    body = {**GOAL, "reference_video_url": "https://example.com/v.mp4", "constraints": {"max_videos": 2, "aspect_ratio": "1:1"}}
    result = start(user, body)
    data = admin.execute(
        "SELECT session_data FROM agentmode.agent_sessions WHERE id = %s", (result.body["session_id"],)
    ).fetchone()[0]
    assert data["constraints"] == {"max_videos": 2, "max_duration_seconds": 30, "aspect_ratio": "1:1"}
    assert data["reference_video_url"] == "https://example.com/v.mp4"


def test_start_publishes_the_session_on_the_agent_queue(
    admin: psycopg.Connection[Any], user: User, sqs_queue: RunnerQueueReader
) -> None:
    result = start(user)
    messages = sqs_queue.bodies()
    assert [m["session_id"] for m in messages] == [result.body["session_id"]]
    assert messages[0]["user_id"] == str(user.id)


def test_queue_failure_answers_503_and_leaves_nothing(
    admin: psycopg.Connection[Any], user: User, monkeypatch: pytest.MonkeyPatch, sqs_queue: RunnerQueueReader
) -> None:
    missing = sqs_queue.url.rsplit("/", 1)[0] + "/does-not-exist.fifo"
    monkeypatch.setattr(queue_client, "_queue", queue_client.SqsQueue(missing))
    result = start(user)
    assert result.status == 503
    assert result.body["error_code"] == "SERVICE_UNAVAILABLE"
    assert result.body["details"]["retry_after_ms"] > 0
    assert sessions_of(admin, user) == []
    assert balance_of(admin, user) == 100
    hits = admin.execute("SELECT count(*) FROM agentmode.rate_limit_hits WHERE user_id = %s", (user.id,)).fetchone()[0]
    assert hits == 0


class RunnerTakingEachStartAtOnce:
    """A runner faster than the start's commit: on each send it asks GET /agent/status with the message's credential
    from its own container, and `send` returns only once that request has its answer or waits in the database."""

    def __init__(self, admin: psycopg.Connection[Any]) -> None:
        self.admin = admin
        self.answers: list[Result] = []

    def send(self, message: StartMessage | AnswerMessage | CancelMessage) -> None:
        assert isinstance(message, StartMessage)
        runner = threading.Thread(target=self._status, args=(message,))
        runner.start()
        while runner.is_alive() and not self._waits_in_the_database():
            time.sleep(0.01)

    def _status(self, message: StartMessage) -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        try:
            headers = {"authorization": f"Bearer {message.credential.token}"}
            self.answers.append(invoke("GET", "/agent/status", headers=headers, query={"session_id": str(message.session_id)}))
        finally:
            db.close_connection()

    def _waits_in_the_database(self) -> bool:
        row = self.admin.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'").fetchone()
        return bool(row and row[0])


def test_a_runner_that_takes_the_start_before_its_commit_finds_the_session(
    admin: psycopg.Connection[Any], user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The message leaves before the commit (a refused send undoes the start): the runner's first call must wait for
    the commit rather than answer 401 and lose the run."""
    runner = RunnerTakingEachStartAtOnce(admin)
    monkeypatch.setattr(queue_client, "_queue", runner)
    result = start(user)
    assert result.status == 201, result.body
    deadline = time.monotonic() + 10
    while not runner.answers and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [(a.status, a.body.get("status")) for a in runner.answers] == [(200, "initializing")]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"goal": ""},
        {"goal": "   "},
        {"goal": "x" * 2001},
        {"goal": 42},
        {**GOAL, "constraints": {"max_videos": 0}},
        {**GOAL, "constraints": {"max_videos": 11}},
        {**GOAL, "constraints": {"max_videos": "3"}},
        {**GOAL, "constraints": {"max_duration_seconds": 4}},
        {**GOAL, "constraints": {"max_duration_seconds": 181}},
        {**GOAL, "constraints": {"aspect_ratio": "21:9"}},
        {**GOAL, "constraints": {"unknown": True}},
        {**GOAL, "reference_video_url": "http://example.com/v.mp4"},
        {**GOAL, "reference_video_url": "javascript:alert(1)"},
        {**GOAL, "reference_video_url": "file:///etc/passwd"},
        {**GOAL, "extra": "field"},
    ],
)
def test_invalid_bodies_are_400_and_change_nothing(admin: psycopg.Connection[Any], user: User, body: dict[str, Any]) -> None:
    result = start(user, body)
    assert result.status == 400
    assert result.body["error_code"] == "VALIDATION_ERROR"
    assert set(result.body) == {"error", "error_code", "details", "timestamp", "request_id"}
    assert sessions_of(admin, user) == []


def test_malformed_json_is_400(user: User) -> None:
    result = invoke("POST", "/agent/start", headers=user.auth, raw_body=b'{"goal": ')
    assert (result.status, result.body["error_code"]) == (400, "VALIDATION_ERROR")


def test_user_without_brand_memory_gets_missing_brand_memory(admin: psycopg.Connection[Any]) -> None:
    newcomer = create_user(admin, brand_memory=False)
    result = start(newcomer)
    assert (result.status, result.body["error_code"]) == (400, "MISSING_BRAND_MEMORY")
    assert result.body["error"] == "User has no brand memory. Please complete onboarding first."
    assert sessions_of(admin, newcomer) == []


def test_expired_brand_memory_does_not_count(admin: psycopg.Connection[Any]) -> None:
    newcomer = create_user(admin, brand_memory=False)
    add_memory(admin, newcomer.id, expires_in="-1 hour")
    add_memory(admin, newcomer.id, memory_type="preference")
    assert start(newcomer).body["error_code"] == "MISSING_BRAND_MEMORY"


def test_free_plan_allows_ten_runs_a_day_and_the_eleventh_is_429(admin: psycopg.Connection[Any]) -> None:
    free = create_user(admin, credits=1000)
    assert [start(free).status for _ in range(10)] == [201] * 10
    result = start(free)
    assert (result.status, result.body["error_code"]) == (429, "RATE_LIMIT_EXCEEDED")
    assert 0 < result.body["details"]["retry_after_ms"] <= 86_400_000
    assert int(result.headers["retry-after"]) >= 1
    assert len(sessions_of(admin, free)) == 10
    assert balance_of(admin, free) == 1000 - 10 * 3


def test_pro_plan_allows_more_than_ten_runs(admin: psycopg.Connection[Any]) -> None:
    pro = create_user(admin, credits=1000, plan="pro")
    assert [start(pro).status for _ in range(11)] == [201] * 11


def test_insufficient_credits_is_402_and_changes_nothing(admin: psycopg.Connection[Any]) -> None:
    poor = create_user(admin, credits=2)
    result = start(poor, {**GOAL, "constraints": {"max_videos": 3}})
    assert (result.status, result.body["error_code"]) == (402, "INSUFFICIENT_CREDITS")
    assert result.body["details"] == {"required": 3, "balance": 2}
    assert sessions_of(admin, poor) == []
    assert balance_of(admin, poor) == 2
    assert start(poor, {**GOAL, "constraints": {"max_videos": 2}}).status == 201
    assert balance_of(admin, poor) == 0


def test_same_idempotency_key_returns_the_same_session_and_counts_one_run(admin: psycopg.Connection[Any], user: User) -> None:
    first = start(user, **{"Idempotency-Key": "retry-1"})
    again = start(user, **{"Idempotency-Key": "retry-1"})
    assert (first.status, again.status) == (201, 200)
    assert again.body == first.body
    assert again.headers["idempotent-replayed"] == "true"
    assert len(sessions_of(admin, user)) == 1
    assert balance_of(admin, user) == 97
    hits = admin.execute("SELECT count(*) FROM agentmode.rate_limit_hits WHERE user_id = %s", (user.id,)).fetchone()[0]
    assert hits == 1


def test_idempotency_key_reused_with_another_body_is_422(admin: psycopg.Connection[Any], user: User) -> None:
    start(user, **{"Idempotency-Key": "retry-2"})
    result = start(user, {"goal": "something else"}, **{"Idempotency-Key": "retry-2"})
    assert (result.status, result.body["error_code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert len(sessions_of(admin, user)) == 1


def test_idempotency_keys_are_per_user(admin: psycopg.Connection[Any], user: User, other_user: User) -> None:
    mine = start(user, **{"Idempotency-Key": "shared"})
    theirs = start(other_user, **{"Idempotency-Key": "shared"})
    assert (mine.status, theirs.status) == (201, 201)
    assert mine.body["session_id"] != theirs.body["session_id"]


def test_losing_a_concurrent_idempotency_race_answers_the_winner_and_undoes_the_loser(
    admin: psycopg.Connection[Any], user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other request commits between our key lookup and our insert: we must answer its session, charge nothing."""
    winner: dict[str, Any] = {}
    real_check = start_service._require_brand_memory

    def commit_a_concurrent_start(conn: Any, user_id: Any) -> None:
        real_check(conn, user_id)
        if not winner:
            fingerprint = start_service.request_hash(start_service.StartRequest.model_validate(GOAL))
            winner["id"] = admin.execute(
                "INSERT INTO agentmode.agent_sessions (user_id, idempotency_key, request_hash)"
                " VALUES (%s, 'race', %s) RETURNING id",
                (user.id, fingerprint),
            ).fetchone()[0]

    monkeypatch.setattr(start_service, "_require_brand_memory", commit_a_concurrent_start)
    result = start(user, **{"Idempotency-Key": "race"})
    assert (result.status, result.body["session_id"]) == (200, str(winner["id"]))
    assert len(sessions_of(admin, user)) == 1
    assert balance_of(admin, user) == 100


@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer not.a.jwt"])
def test_missing_or_bad_token_is_401(admin: psycopg.Connection[Any], header: str | None) -> None:
    headers = {"authorization": header} if header else {}
    result = invoke("POST", "/agent/start", headers=headers, json_body=GOAL)
    assert (result.status, result.body["error_code"]) == (401, "UNAUTHORIZED")
