"""The agent loop end to end over HTTP: the web app starts a run, the reference runner (local/reference_runner.py)
takes it off the FIFO runner queue (moto's SQS server) and reports through the public API with its credential, the
user answers its question or cancels, the sweeper ends a run whose runner died. docs/runner.md is the contract."""

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest

import agentmode.runner_queue as runner_queue_module
from local.reference_runner import Options, ReferenceRunner
from local.runner_queue import LocalQueue, fifo_queue_on
from tests.conftest import reset_function_state
from tests.factories import User
from tests.runner_support import make_quiet, run_sweeper

WAIT_SECONDS = 30.0


@pytest.fixture
def local_queue(monkeypatch: pytest.MonkeyPatch, sqs_endpoint: str) -> Iterator[LocalQueue]:
    """A queue of the test's own on the session's moto SQS server, as AGENT_QUEUE_URL for the live server's functions."""
    queue = fifo_queue_on(sqs_endpoint, f"agent-queue-{uuid.uuid4().hex[:12]}.fifo")
    for name, value in queue.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(runner_queue_module, "_queue", None)
    reset_function_state()
    yield queue
    monkeypatch.undo()
    reset_function_state()


@pytest.fixture
def start_runner(live_server: str, local_queue: LocalQueue) -> Iterator[Callable[..., ReferenceRunner]]:
    stops: list[Callable[[], None]] = []

    def start(**options: Any) -> ReferenceRunner:
        runner = ReferenceRunner(live_server, local_queue.client(), local_queue.url, Options(step_seconds=0, **options))
        stops.append(runner.start_in_background())
        return runner

    yield start
    for stop in stops:
        stop()


def start_run(client: httpx.Client, user: User) -> uuid.UUID:
    started = client.post("/agent/start", headers=user.auth, json={"goal": "Video ads for my SaaS product"})
    assert started.status_code == 201, started.text
    return uuid.UUID(started.json()["session_id"])


def events(client: httpx.Client, user: User, session_id: uuid.UUID) -> list[dict[str, Any]]:
    page = client.get("/agent/events", headers=user.auth, params={"session_id": str(session_id), "limit": 500})
    assert page.status_code == 200, page.text
    return list(page.json()["events"])


def status(client: httpx.Client, user: User, session_id: uuid.UUID) -> dict[str, Any]:
    answer = client.get("/agent/status", headers=user.auth, params={"session_id": str(session_id)})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def question_of(client: httpx.Client, user: User, session_id: uuid.UUID) -> dict[str, Any] | None:
    return next((e for e in events(client, user, session_id) if e["event"] == "user_input_required"), None)


def broadcast_seqs(admin: psycopg.Connection[Any], session_id: uuid.UUID) -> list[int]:
    rows = admin.execute(
        "SELECT (payload ->> 'seq')::int FROM realtime.messages WHERE topic = %s ORDER BY 1", (f"agent-session:{session_id}",)
    ).fetchall()
    return [row[0] for row in rows]


def balance(admin: psycopg.Connection[Any], user: User) -> int:
    row = admin.execute("SELECT balance FROM agentmode.credit_balances WHERE user_id = %s", (user.id,)).fetchone()
    assert row is not None
    return int(row[0])


def test_a_run_goes_from_start_through_the_users_answer_to_completion(
    client: httpx.Client, admin: psycopg.Connection[Any], user: User, start_runner: Callable[..., ReferenceRunner]
) -> None:
    start_runner()
    session_id = start_run(client, user)

    question = wait_for(lambda: question_of(client, user, session_id), "the agent's question")
    answer = {"session_id": str(session_id), "question_seq": question["seq"], "value": "concept_2"}
    answered = client.post("/agent/respond", headers=user.auth, json=answer)
    assert answered.status_code == 200, answered.text
    final = wait_for(lambda: (s := status(client, user, session_id))["status"] == "completed" and s, "the run to complete")

    log = events(client, user, session_id)
    kinds = {e["event"] for e in log}
    assert kinds >= {"step_started", "step_progress", "step_completed", "tool_called", "tool_result", "reasoning_update",
                     "user_input_required", "user_response", "error", "session_completed"}  # fmt: skip
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    assert final["progress_percentage"] == 100
    assert len(final["completed_steps"]) == 8
    assert "concept_2" in [e["payload"].get("value") for e in log if e["event"] == "user_response"]
    assert broadcast_seqs(admin, session_id) == [e["seq"] for e in log]


def test_a_completed_run_wrote_its_step_7_insight_and_was_charged_once(
    client: httpx.Client, admin: psycopg.Connection[Any], user: User, start_runner: Callable[..., ReferenceRunner]
) -> None:
    before = balance(admin, user)
    start_runner(question_timeout_ms=1000)
    session_id = start_run(client, user)
    wait_for(lambda: question_of(client, user, session_id), "the agent's question")
    run_sweeper_after(1.2)

    wait_for(lambda: status(client, user, session_id)["status"] == "completed", "the run to complete")

    insight = admin.execute(
        "SELECT count(*) FROM agentmode.agent_memory WHERE user_id = %s AND memory_type = 'insight'"
        " AND metadata ->> 'session_id' = %s",
        (user.id, str(session_id)),
    ).fetchone()
    assert insight == (1,)
    assert balance(admin, user) == before - 3


def run_sweeper_after(seconds: float) -> None:
    time.sleep(seconds)
    run_sweeper()


def test_an_unanswered_question_closes_by_its_timeout_and_the_run_goes_on(
    client: httpx.Client, admin: psycopg.Connection[Any], user: User, start_runner: Callable[..., ReferenceRunner]
) -> None:
    start_runner(question_timeout_ms=1000)
    session_id = start_run(client, user)
    wait_for(lambda: question_of(client, user, session_id), "the agent's question")

    run_sweeper_after(1.2)

    wait_for(lambda: status(client, user, session_id)["status"] == "completed", "the run to complete")
    [response] = [e for e in events(client, user, session_id) if e["event"] == "user_response"]
    assert (response["payload"]["value"], response["payload"]["answered_by"]) == ("agent_decide", "timeout")


def test_a_cancelled_run_stops_its_runner(
    client: httpx.Client, admin: psycopg.Connection[Any], user: User, start_runner: Callable[..., ReferenceRunner]
) -> None:
    before = balance(admin, user)
    start_runner(question_timeout_ms=60_000)
    session_id = start_run(client, user)
    wait_for(lambda: question_of(client, user, session_id), "the agent's question")

    cancelled = client.post("/agent/cancel", headers=user.auth, json={"session_id": str(session_id)})

    assert cancelled.status_code == 200, cancelled.text
    seq = cancelled.json()["seq"]
    time.sleep(1.0)  # the runner gets its cancel message; it must add nothing after it
    log = events(client, user, session_id)
    assert (log[-1]["event"], log[-1]["seq"]) == ("session_cancelled", seq)
    assert status(client, user, session_id)["status"] == "cancelled"
    assert balance(admin, user) == before


def test_a_run_whose_runner_died_is_ended_by_the_sweeper(
    client: httpx.Client, admin: psycopg.Connection[Any], user: User, start_runner: Callable[..., ReferenceRunner]
) -> None:
    start_runner(die_after_steps=2)
    session_id = start_run(client, user)
    wait_for(lambda: any(e["event"] == "step_completed" and e["payload"].get("step_index") == 2
                         for e in events(client, user, session_id)), "two steps")  # fmt: skip
    time.sleep(0.5)
    make_quiet(admin, session_id, 601)

    run_sweeper()

    log = events(client, user, session_id)
    assert [e["event"] for e in log[-2:]] == ["error", "session_completed"]
    assert log[-2]["payload"]["recovery_strategy"] == "abort"
    assert status(client, user, session_id)["status"] == "failed"


def test_make_run_with_the_runner_flag_hands_runs_to_the_reference_runner(
    client: httpx.Client, user: User, live_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make run RUNNER=1`'s start-up, after the stack already read its settings: agent_start must send to the new
    queue, and the reference runner take the run up to its question."""
    from agentmode.settings import get_settings
    from local.server import start_runner_loop

    for name in ("AGENT_QUEUE_URL", "AWS_ENDPOINT_URL_SQS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, os.environ.get(name, ""))  # start_runner_loop sets them; put back after the test
    monkeypatch.setattr(runner_queue_module, "_queue", None)
    get_settings()  # main() reads them before it starts the runner loop
    stop = start_runner_loop(live_server)
    try:
        session_id = start_run(client, user)
        question = wait_for(lambda: question_of(client, user, session_id), "the reference runner's question")
    finally:
        stop()
        monkeypatch.undo()
        reset_function_state()

    assert question["payload"]["options"][-1]["value"] == "agent_decide"
