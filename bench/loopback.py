"""Loopback stand-ins of the services the functions call, so their real client paths run: SQS (moto's server) and
Supabase Realtime's REST broadcast endpoint (one that only accepts, one that also records)."""

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3

from bench.errors import BenchError

AWS_TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def sqs_client(endpoint: str) -> Any:
    """The bench's own client, to create the queue and count what agent_start sent to it."""
    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=AWS_TEST_CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=AWS_TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@contextlib.contextmanager
def sqs_queue() -> Iterator[tuple[str, str]]:
    """moto's SQS on a free loopback port, so agent_start's SQS client really sends; yields (endpoint, queue URL)."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # moto[sqs] alone lacks flask, which moto's server is built on
        raise BenchError(f"moto's server cannot start ({exc}); install moto[server]") from None
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        fifo = sqs_client(endpoint).create_queue(QueueName="bench-agent-queue.fifo", Attributes={"FifoQueue": "true"})
        yield (
            endpoint,
            fifo["QueueUrl"],
        )
    finally:
        server.stop()


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


@contextlib.contextmanager
def realtime_endpoint() -> Iterator[str]:
    """Answers `POST /realtime/v1/api/broadcast` with 202 as Supabase does, so agent_event's broadcast really happens."""
    with realtime_recorder() as recorder:
        yield recorder.url
