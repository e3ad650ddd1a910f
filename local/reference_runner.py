"""A reference runner: the executable form of docs/runner.md, for the local stack and the end-to-end tests.

It is not the agent (no model, no research, no video: a later piece of work) and does nothing clever. It consumes the
runner queue and takes each session through the eight steps using only the public HTTP API and the session's runner
credential: it reads the brand memory, reports every §6 event kind with plausible payloads, asks the user one question
and follows the answer (or the timeout's), writes a step-7 insight, and completes with a result. A cancel, a 401 (the
run ended) or a 409 (the session ended) stops the session's thread.

    python -m local.reference_runner --api http://127.0.0.1:3000   # AGENT_QUEUE_URL and AWS_ENDPOINT_URL_SQS set
    make run RUNNER=1                                              # the local stack with its own queue and this runner
"""

import argparse
import json
import os
import queue
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from pydantic import TypeAdapter, ValidationError

from agentmode.runner_queue import AnswerMessage, CancelMessage, RunnerMessage, StartMessage
from agentmode.sessions import STEPS

MESSAGES: TypeAdapter[RunnerMessage] = TypeAdapter(RunnerMessage)
QUESTION_STEP = "Generate concepts"
QUESTION_OPTIONS = [
    {"value": "concept_1", "label": "Problem/solution: 'Stop wasting time on manual reports'"},
    {"value": "concept_2", "label": "Social proof: '10,000 teams switched this year'"},
    {"value": "agent_decide", "label": "Let the agent decide"},
]
# The answer may come from the run sweeper after the question's timeout (every minute deployed): wait that long more.
ANSWER_GRACE_SECONDS = 90.0


class RunEnded(Exception):
    """The run is over for this runner: cancelled, ended elsewhere, or its credential refused."""


@dataclass
class Api:
    """The public HTTP API with one session's runner credential."""

    base_url: str
    token: str

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, query: str = "") -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - the local stack's URL, or one the operator gave
            f"{self.base_url}{path}{'?' + query if query else ''}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"authorization": f"Bearer {self.token}", "content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - as above
                answer: dict[str, Any] = json.loads(response.read() or b"{}")
                return answer
        except urllib.error.HTTPError as error:
            if error.code in (401, 409):
                raise RunEnded(f"{method} {path}: {error.code}") from None
            raise


@dataclass
class Options:
    step_seconds: float = 0.5
    question_timeout_ms: int = 30_000
    # A runner that dies after this many steps (never completes): the stalled-run path of the tests.
    die_after_steps: int | None = None


@dataclass
class SessionRun:
    """One session's run in its own thread; answers and cancels reach it through `inbox`."""

    start: StartMessage
    api: Api
    options: Options
    inbox: "queue.Queue[AnswerMessage | CancelMessage]" = field(default_factory=queue.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def event(self, action_type: str, **fields: Any) -> int:
        if self.cancelled.is_set():
            raise RunEnded("cancelled")
        logged = self.api.call(
            "POST", "/agent/event", {"session_id": str(self.start.session_id), "action_type": action_type, **fields}
        )
        time.sleep(self.options.step_seconds)
        return int(logged["seq"])

    def run(self) -> None:
        try:
            status = self.api.call("GET", "/agent/status", query=f"session_id={self.start.session_id}")
            if status["status"] != "initializing":
                return  # taken by another runner, or ended: nothing to do (docs/runner.md, "Exactly once")
            self._steps()
        except RunEnded:
            return

    def _steps(self) -> None:
        brand = self.api.call(
            "GET", "/agent/read-memory", query="query=brand%20voice%20and%20audience&memory_type=brand_memory&limit=3"
        )
        for done, step in enumerate(STEPS):
            if self.options.die_after_steps is not None and done >= self.options.die_after_steps:
                return
            self.event("step_started", step_name=step.name, step_index=step.index)
            self._work(step.name, brand)
            self.event("step_completed", step_name=step.name, step_index=step.index, execution_time_ms=1200,
                       result={"summary": f"{step.name}: done"})  # fmt: skip
        self.event("session_completed", status="success", result={
            "videos": [{"concept": "concept_1", "url": "https://cdn.example.com/videos/demo-1.mp4", "duration_seconds": 24}],
            "insights": ["Hooks under 3 seconds held attention best."]})  # fmt: skip

    def _work(self, step_name: str, brand: dict[str, Any]) -> None:
        if step_name == "Analyze brand memory":
            memories = len(brand.get("results", []))
            self.event(
                "reasoning_update", step_name=step_name, reasoning=f"Read {memories} brand memories.", confidence_score=0.9
            )
        elif step_name == "Research competitors":
            self.event(
                "tool_called", step_name=step_name, tool_name="meta_ads_search", input_data={"search_term": "Nike", "limit": 50}
            )
            self.event("error", step_name=step_name, tool_name="meta_ads_search", error_message="Rate limited by the ads library",
                       recovery_strategy="retry_after_delay", retry_after_ms=1000)  # fmt: skip
            self.event("tool_result", step_name=step_name, tool_name="meta_ads_search", status="success", execution_time_ms=2300,
                       output_data={"ads_count": 50, "top_hooks": ["Just do it", "Run your world"]})  # fmt: skip
        elif step_name == "Analyze trends":
            self.event("step_progress", step_name=step_name, progress_percentage=50, message="Half of the trend sources read")
        elif step_name == QUESTION_STEP:
            self._ask(step_name)
        elif step_name == "Update memory":
            self.api.call("POST", "/agent/write-memory", {
                "memory_type": "insight", "content": f"Run {self.start.session_id}: short problem/solution hooks tested best.",
                "metadata": {"source": "reference_runner", "session_id": str(self.start.session_id)}})  # fmt: skip

    def _ask(self, step_name: str) -> None:
        seq = self.event("user_input_required", step_name=step_name, question="Which concept should we develop?",
                         options=QUESTION_OPTIONS, timeout_ms=self.options.question_timeout_ms)  # fmt: skip
        answer = self._answer_to(seq)
        chosen_by = "the user" if answer.answered_by == "user" else "the timeout"
        self.event("reasoning_update", step_name=step_name, confidence_score=1.0,
                   reasoning=f"Developing {answer.value} (chosen by {chosen_by}).")  # fmt: skip

    def _answer_to(self, question_seq: int) -> AnswerMessage:
        deadline = time.monotonic() + self.options.question_timeout_ms / 1000 + ANSWER_GRACE_SECONDS
        while time.monotonic() < deadline:
            try:
                message = self.inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            if isinstance(message, CancelMessage):
                raise RunEnded("cancelled")
            if message.question_seq == question_seq:
                return message
        raise RunEnded("no answer came")


class ReferenceRunner:
    """Receives the runner queue's messages and dispatches them: a start begins a session's thread, an answer or a
    cancel goes to that session's inbox. A start message is deleted once its session is taken, so that the session's
    next messages (FIFO, one message group per session) can be delivered."""

    def __init__(self, api_url: str, sqs: Any, queue_url: str, options: Options | None = None) -> None:
        self.api_url = api_url
        self.sqs = sqs
        self.queue_url = queue_url
        self.options = options or Options()
        self.runs: dict[str, SessionRun] = {}
        self.threads: list[threading.Thread] = []
        self.stopping = threading.Event()

    def poll_once(self) -> int:
        reply = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = reply.get("Messages", [])
        for message in messages:
            try:
                parsed = MESSAGES.validate_json(message["Body"])
            except ValidationError:
                continue  # an unknown version or shape stays; after its receives it goes to the DLQ
            self._dispatch(parsed)
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def _dispatch(self, message: StartMessage | AnswerMessage | CancelMessage) -> None:
        session = str(message.session_id)
        if isinstance(message, StartMessage):
            self._begin(message)
            return
        taken = self.runs.get(session)
        if taken is None:
            return  # not ours (another runner's session, or a run this process never started)
        if isinstance(message, CancelMessage):
            taken.cancelled.set()
        taken.inbox.put(message)

    def _begin(self, start: StartMessage) -> None:
        run = SessionRun(start, Api(self.api_url, start.credential.token), self.options)
        self.runs[str(start.session_id)] = run
        thread = threading.Thread(target=run.run, name=f"run-{str(start.session_id)[:8]}", daemon=True)
        self.threads.append(thread)
        thread.start()

    def serve(self) -> None:
        while not self.stopping.is_set():
            self.poll_once()

    def start_in_background(self) -> Callable[[], None]:
        thread = threading.Thread(target=self.serve, name="reference-runner", daemon=True)
        thread.start()

        def stop() -> None:
            self.stopping.set()
            thread.join(timeout=5)

        return stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.reference_runner", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--api", default="http://127.0.0.1:3000", help="the API's base URL")
    parser.add_argument("--step-seconds", type=float, default=0.5, help="pause after each event, to watch a run go")
    args = parser.parse_args(argv)
    queue_url = os.environ.get("AGENT_QUEUE_URL")
    if not queue_url:
        print("AGENT_QUEUE_URL is not set: nothing to consume", file=sys.stderr)
        return 2
    sqs = boto3.client("sqs", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_SQS"))
    ReferenceRunner(args.api, sqs, queue_url, Options(step_seconds=args.step_seconds)).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
