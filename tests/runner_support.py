"""The runner side of the agent loop in tests: a session with its runner credential, the runner queue (moto SQS
FIFO, as deployed), the events a session logged, the run sweeper's handler."""

import asyncio
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import psycopg
from psycopg.types.json import Jsonb
from pydantic import TypeAdapter

from agentmode import db, runner_credentials
from agentmode import runner_queue as queue_module
from agentmode.runner_queue import RunnerMessage
from agentmode.settings import get_settings
from local.lambda_runtime import LambdaContext, load_handler
from local.runner_queue import fifo_queue_on
from local.stack import ROOT
from tests.factories import User, create_session
from tests.lambda_invoke import Result, invoke

QUESTION = {
    "question": "Which concept should we develop?",
    "options": [{"value": "concept_1", "label": "Bold"}, {"value": "agent_decide", "label": "Let the agent decide"}],
    "timeout_ms": 30_000,
}
T = TypeVar("T")
SCHEDULED_EVENT = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.scheduler", "detail": {}}


@dataclass(frozen=True)
class Runner:
    session_id: uuid.UUID
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


def runner_for(admin: psycopg.Connection[Any], user: User, **columns: Any) -> Runner:
    """A live session of `user` and the credential agent_start would have put in its start message."""
    session_id = create_session(admin, user.id, **columns)
    deadline = admin.execute("SELECT deadline_at FROM agentmode.agent_sessions WHERE id = %s", (session_id,)).fetchone()
    assert deadline is not None
    return Runner(session_id, runner_credentials.issue(session_id, user.id, deadline[0], get_settings()))


def asking_session(admin: psycopg.Connection[Any], user_id: uuid.UUID, session_id: uuid.UUID | None = None) -> uuid.UUID:
    """A session (`session_id` made anew) whose agent asked its user a question: seq 1, option "a", an hour to answer."""
    session_id = session_id or uuid.uuid4()
    admin.execute("DELETE FROM agentmode.agent_sessions WHERE id = %s", (session_id,))
    create_session(admin, user_id, id=session_id, status="awaiting_input", last_seq=1)
    options = [{"value": "a", "label": "A"}]
    asked = {"event": "user_input_required", "session_id": str(session_id), "seq": 1, "question": "A or not?",
             "options": options, "timeout_ms": 3_600_000}  # fmt: skip
    admin.execute(
        "INSERT INTO agentmode.agent_execution_logs (session_id, user_id, seq, action_type, event_payload)"
        " VALUES (%s, %s, 1, 'user_input_required', %s)",
        (session_id, user_id, Jsonb(asked)),
    )
    admin.execute(
        "INSERT INTO agentmode.agent_questions (session_id, user_id, question_seq, options, default_value, asked_at,"
        " timeout_at) VALUES (%s, %s, 1, %s, 'a', now(), now() + interval '1 hour')",
        (session_id, user_id, Jsonb(options)),
    )
    return session_id


def post_event(caller: User | Runner, session_id: uuid.UUID, action_type: str, **fields: Any) -> Result:
    body = {"session_id": str(session_id), "action_type": action_type, **fields}
    return invoke("POST", "/agent/event", headers=caller.auth, json_body=body)


def ask(caller: User | Runner, session_id: uuid.UUID, **overrides: Any) -> Result:
    return post_event(caller, session_id, "user_input_required", **{**QUESTION, **overrides})


def respond(user: User, session_id: uuid.UUID, question_seq: int, value: str) -> Result:
    body = {"session_id": str(session_id), "question_seq": question_seq, "value": value}
    return invoke("POST", "/agent/respond", headers=user.auth, json_body=body)


def cancel(user: User, session_id: uuid.UUID) -> Result:
    return invoke("POST", "/agent/cancel", headers=user.auth, json_body={"session_id": str(session_id)})


def logged_events(admin: psycopg.Connection[Any], session_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = admin.execute(
        "SELECT event_payload FROM agentmode.agent_execution_logs WHERE session_id = %s ORDER BY seq", (session_id,)
    ).fetchall()
    return [row[0] for row in rows]


def session_row(admin: psycopg.Connection[Any], session_id: uuid.UUID) -> dict[str, Any]:
    cursor = admin.execute("SELECT * FROM agentmode.agent_sessions WHERE id = %s", (session_id,))
    names = [c.name for c in cursor.description or []]
    row = cursor.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


def questions_of(admin: psycopg.Connection[Any], session_id: uuid.UUID) -> list[dict[str, Any]]:
    cursor = admin.execute("SELECT * FROM agentmode.agent_questions WHERE session_id = %s ORDER BY question_seq", (session_id,))
    names = [c.name for c in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def make_due(admin: psycopg.Connection[Any], session_id: uuid.UUID) -> None:
    """The open question's timeout passed a second ago."""
    admin.execute(
        "UPDATE agentmode.agent_questions SET timeout_at = now() - interval '1 second'"
        " WHERE session_id = %s AND answered_at IS NULL",
        (session_id,),
    )


def make_quiet(admin: psycopg.Connection[Any], session_id: uuid.UUID, seconds: int) -> None:
    quiet_since = datetime.now(UTC) - timedelta(seconds=seconds)
    admin.execute("UPDATE agentmode.agent_sessions SET updated_at = %s WHERE id = %s", (quiet_since, session_id))


def load_functions(*names: str) -> None:
    """Imports the functions before threads call them: two threads importing one module may see it half-loaded."""
    for name in names:
        load_handler(ROOT / "functions" / name)


def in_parallel(*calls: Callable[[], T]) -> list[T]:
    """Runs each call at once in its own thread, as one container each (its own event loop and database connection),
    and returns their results in the calls' order."""
    barrier = threading.Barrier(len(calls))
    results: dict[int, T] = {}

    def container(index: int, call: Callable[[], T]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            barrier.wait()
            results[index] = call()
        finally:
            db.close_connection()
            loop.close()

    threads = [threading.Thread(target=container, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == len(calls), "a call raised (see the thread's warning)"
    return [results[index] for index in range(len(calls))]


def run_sweeper() -> dict[str, int]:
    handler = load_handler(ROOT / "functions" / "run_sweeper")
    report: dict[str, int] = handler(SCHEDULED_EVENT, LambdaContext(function_name="RunSweeperFunction", timeout_seconds=50))
    return report


_MESSAGES: TypeAdapter[RunnerMessage] = TypeAdapter(RunnerMessage)


class RunnerQueueReader:
    """The FIFO queue agent_start, agent_control and run_sweeper send to, read as a runner would."""

    def __init__(self, client: Any, url: str) -> None:
        self.client = client
        self.url = url

    def receive(self) -> list[tuple[str, RunnerMessage]]:
        """Every message waiting, with its message group, in delivery order; each deleted once read."""
        received: list[tuple[str, RunnerMessage]] = []
        while True:
            reply = self.client.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, AttributeNames=["MessageGroupId"])
            messages = reply.get("Messages", [])
            if not messages:
                return received
            for message in messages:
                received.append((message["Attributes"]["MessageGroupId"], _MESSAGES.validate_json(message["Body"])))
                self.client.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(message.model_dump_json()) for _, message in self.receive()]


def fifo_queue(monkeypatch: Any, endpoint: str) -> RunnerQueueReader:
    """A fresh FIFO queue on the session's moto SQS server, wired in as the functions' runner queue."""
    queue = fifo_queue_on(endpoint, f"agent-queue-{uuid.uuid4().hex[:12]}.fifo")
    for name, value in queue.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(queue_module, "_queue", queue_module.SqsQueue(queue.url))
    return RunnerQueueReader(queue.client(), queue.url)
