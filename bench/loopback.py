"""Loopback stand-ins of the services the functions call, so their real client paths run: SQS (moto's server) and
Supabase Realtime's REST broadcast endpoint that records what it gets (bench.realtime_paths: the former design)."""

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.errors import BenchError
from local.runner_queue import LocalQueue, local_fifo_queue


def sqs_client(endpoint: str) -> Any:
    """The bench's own client, to count what the functions sent to the queue."""
    return LocalQueue(endpoint, "").client()


@contextlib.contextmanager
def sqs_queue() -> Iterator[tuple[str, str]]:
    """moto's SQS on a free loopback port with the FIFO runner queue, so the functions' SQS client really sends;
    yields (endpoint, queue URL)."""
    try:
        with local_fifo_queue("bench-agent-queue.fifo") as queue:
            yield queue.endpoint, queue.url
    except ImportError as exc:  # moto[sqs] alone lacks flask, which moto's server is built on
        raise BenchError(f"moto's server cannot start ({exc}); install moto[server]") from None


def queued_messages(endpoint: str, queue_url: str) -> int:
    attributes = sqs_client(endpoint).get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def queued_session_ids(endpoint: str, queue_url: str) -> list[str]:
    """Every message agent_start sent, drained from the queue."""
    client = sqs_client(endpoint)
    found: list[str] = []
    while True:
        batch = client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=600).get("Messages", [])
        if not batch:
            return found
        found += [json.loads(message["Body"])["session_id"] for message in batch]


@dataclass
class RealtimeRecorder:
    """Supabase Realtime's REST broadcast endpoint on loopback: answers 202 and keeps every message in arrival order."""

    url: str = ""
    messages: list[tuple[str, int, str]] = field(default_factory=list)  # (topic, seq, log_id)
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextlib.contextmanager
def realtime_recorder() -> Iterator[RealtimeRecorder]:
    recorder = RealtimeRecorder()

    class Accept(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
            with recorder.lock:
                for message in body.get("messages", []):
                    payload = message.get("payload") or {}
                    recorder.messages.append((message.get("topic", ""), int(payload.get("seq", 0)), payload.get("log_id", "")))
            self.send_response(202)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Accept)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
