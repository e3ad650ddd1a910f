"""SQS on loopback for bench.runner_loop: answers SendMessage at once and keeps what each one sent, so the functions'
own SQS client (agentmode.aws_api) runs whole (serialise, sign, HTTP, parse) without timing a slow queue stand-in.

Why not moto's server (bench.loopback.sqs_queue): measured on the bench machine, one FIFO SendMessage to it took
18 ms p50 over its first 50 messages, 40 ms over the next 200 and 79 ms over the 200 after (a standard queue: 12 ms),
so respond and cancel would time moto, and more of it each round.
"""

import contextlib
import hashlib
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

QUEUE_PATH = "/000000000000/bench-agent-queue.fifo"


@dataclass
class SentMessages:
    """Each SendMessage received, as (message group, the message's `type`), in arrival order."""

    endpoint: str = ""
    queue_url: str = ""
    messages: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def groups_of(self, message_type: str) -> list[str]:
        with self.lock:
            return [group for group, sent_type in self.messages if sent_type == message_type]


def _send_message_reply(request: dict[str, Any]) -> bytes:
    digest = hashlib.md5(request["MessageBody"].encode(), usedforsecurity=False).hexdigest()
    return json.dumps({"MessageId": str(uuid.uuid4()), "MD5OfMessageBody": digest, "SequenceNumber": "1"}).encode()


@contextlib.contextmanager
def recording_sqs() -> Iterator[SentMessages]:
    sent = SentMessages()

    class SendMessage(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # kept alive, as agentmode.aws_api keeps its connection to SQS
        disable_nagle_algorithm = True  # else the body waits for the headers' delayed ACK (40 ms)

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["content-length"])))
            with sent.lock:
                sent.messages.append((request["MessageGroupId"], json.loads(request["MessageBody"])["type"]))
            reply = _send_message_reply(request)
            self.send_response(200)
            self.send_header("content-type", "application/x-amz-json-1.0")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), SendMessage)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sent.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    sent.queue_url = sent.endpoint + QUEUE_PATH
    try:
        yield sent
    finally:
        server.shutdown()
        server.server_close()
