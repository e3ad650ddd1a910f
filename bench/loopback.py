"""Loopback stand-ins of the services the functions call, so their real client paths run: SQS (moto's server),
Bedrock's InvokeModel for Titan embeddings, ClickHouse's HTTP interface answered by chDB, and Supabase Realtime's REST
broadcast endpoint that records what it gets (bench.realtime_paths: the former design)."""

import contextlib
import gzip
import hashlib
import json
import math
import random
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import lz4.frame  # type: ignore[import-untyped]
from backports import zstd

from bench.errors import BenchError
from local.runner_queue import LocalQueue, local_fifo_queue

if TYPE_CHECKING:  # the layer is on the path only once bench.functions puts it there
    from agentmode.clickhouse import EmbeddedClickHouse


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

    with serving(Accept) as recorder.url:
        yield recorder


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` on a free loopback port, in a thread, until the block ends; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _KeptAlive(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # kept alive, as the functions' clients keep their connections
    disable_nagle_algorithm = True  # else the body waits for the headers' delayed ACK (40 ms)

    def reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def request_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        return


def bedrock_vector(text: str, dimension: int) -> list[float]:
    """A unit vector drawn from the text's hash: the same text always embeds the same, as with Titan's `normalize`."""
    draw = random.Random(hashlib.sha256(text.encode()).digest())
    vector = [draw.gauss(0.0, 1.0) for _ in range(dimension)]
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector]


@dataclass
class BedrockRuntime:
    """Bedrock's InvokeModel for Titan Text Embeddings V2 on loopback (`POST /model/<model id>/invoke`), answering
    its documented body, `{"embedding": [...], "inputTextTokenCount": n}`, in the dimension asked for; counts calls."""

    url: str = ""
    invocations: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextlib.contextmanager
def bedrock_runtime() -> Iterator[BedrockRuntime]:
    stand_in = BedrockRuntime()

    class InvokeModel(_KeptAlive):
        def do_POST(self) -> None:
            request = json.loads(self.request_body())
            if not self.path.endswith("/invoke") or "inputText" not in request:
                self.reply(400, b'{"message": "not an InvokeModel request for a Titan embedding"}', {})
                return
            text, dimension = request["inputText"], int(request.get("dimensions", 1024))
            tokens = len(text.split())
            body = json.dumps({"embedding": bedrock_vector(text, dimension), "inputTextTokenCount": tokens}).encode()
            with stand_in.lock:
                stand_in.invocations += 1
            self.reply(200, body, {
                "content-type": "application/json", "x-amzn-RequestId": str(uuid.uuid4()),
                "X-Amzn-Bedrock-Input-Token-Count": str(tokens), "X-Amzn-Bedrock-Invocation-Latency": "1",
            })  # fmt: skip

    with serving(InvokeModel) as stand_in.url:
        yield stand_in


# ClickHouse's preference among the encodings a client accepts (zstd, then lz4, then gzip), when the request enables
# HTTP compression; the functions' client (agentmode/clickhouse.py) accepts gzip, clickhouse-connect all three.
ENCODERS: dict[str, Callable[[bytes], bytes]] = {"zstd": zstd.compress, "lz4": lz4.frame.compress, "gzip": gzip.compress}
_NAMED_FORMAT = re.compile(r"\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$", re.IGNORECASE)
_ERROR_CODE = re.compile(r"Code: (\d+)")


@dataclass(frozen=True)
class ClickHouseHTTP:
    """Where the stand-in listens, as a deployed function's ClickHouse settings see it."""

    port: int

    def environment(self) -> dict[str, str]:
        """Plain HTTP on loopback; the template gives the host (bench.functions_targets), user and database."""
        return {"CLICKHOUSE_PORT": str(self.port), "CLICKHOUSE_SECURE": "false"}


@contextlib.contextmanager
def clickhouse_http(engine: "EmbeddedClickHouse") -> Iterator[ClickHouseHTTP]:
    """ClickHouse's HTTP interface on loopback, each statement run by `engine` (chDB: the same engine and SQL), so
    the functions' client's parameter binding, JSON answers and decompression run as against a server.

    Narrower than tests.clickhouse_http (the functions' own tests): reads only. The statement is the `query`
    parameter and the body; `param_*` values are bound by chDB; `database` and `default_format` are honoured; the
    other parameters (settings such as max_execution_time) are not applied; the parameters come in the URL, not in a
    form (the bench's are short). Errors come back as ClickHouse's text with its code header."""
    [server] = engine.query("SELECT version() AS version, timezone() AS timezone", {})

    class Statement(_KeptAlive):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/ping":
                self.reply(200, b"Ok.\n", {"content-type": "text/html; charset=UTF-8"})
                return
            fields = dict(parse_qsl(url.query, keep_blank_values=True))
            sql = "\n".join(part for part in (fields.get("query", ""), self.request_body().decode()) if part)
            named = _NAMED_FORMAT.search(sql)
            output_format = named.group(1) if named else fields.get("default_format") or "TabSeparated"
            params = {name.removeprefix("param_"): value for name, value in fields.items() if name.startswith("param_")}
            headers = {
                "X-ClickHouse-Query-Id": fields.get("query_id") or str(uuid.uuid4()),
                "X-ClickHouse-Timezone": server["timezone"],
                "X-ClickHouse-Server-Display-Name": "bench-chdb",
            }
            try:
                answer = engine.query_bytes(sql, output_format, params, fields.get("database", ""))
            except RuntimeError as error:  # how chDB raises the engine's exceptions: "Code: <n>. DB::Exception: ..."
                code = _ERROR_CODE.search(str(error))
                headers.update(
                    {"content-type": "text/plain; charset=UTF-8", "X-ClickHouse-Exception-Code": code[1] if code else "1"}
                )
                self.reply(500, f"{error} (version {server['version']})\n".encode(), headers)
                return
            summary = {"read_rows": answer.read_rows, "read_bytes": answer.read_bytes, "elapsed_ns": answer.elapsed_ns}
            headers.update({
                "content-type": "application/octet-stream", "X-ClickHouse-Format": output_format,
                "X-ClickHouse-Summary": json.dumps({name: str(value) for name, value in summary.items()}),
            })  # fmt: skip
            body = answer.data
            accepted = self.headers.get("accept-encoding", "")
            encoding = next((name for name in ENCODERS if name in accepted), None)
            if fields.get("enable_http_compression") in ("1", "true") and encoding is not None:
                body, headers["content-encoding"] = ENCODERS[encoding](body), encoding
            self.reply(200, body, headers)

        do_POST = do_GET

    with serving(Statement) as url:
        yield ClickHouseHTTP(int(url.rsplit(":", 1)[1]))
