"""ClickHouse's HTTP interface on loopback, answered by the test session's chDB: the server the deployed traces function
reads through clickhouse-connect (RemoteClickHouse), so that client's requests, binding, decoding, compression and
error handling run against the real engine.

What it serves, as ClickHouse 26 does:
- `POST /` and read-only `GET /`; `GET /ping`. The statement is the `query` parameter and the body joined by a newline
  (either may be absent), or the fields of a multipart form (the client's choice when parameters are long). An
  INSERT's data follows its `FORMAT` line, plain or compressed (lz4, zstd, gzip, deflate), whole or chunked.
- `param_<name>`: bound server-side by chDB, in ClickHouse's escaped text form exactly as received. `database`,
  `default_format`, `query_id`. Every parameter that is not the interface's own is a setting of that statement alone
  (appended as its SETTINGS clause, so the statement's own still win); statements that answer no rows and carry no
  data (DDL, INSERT ... VALUES) run without them, as a SETTINGS clause means something else there.
- The answer in the statement's FORMAT (else `default_format`, else TabSeparated), compressed as ClickHouse picks from
  Accept-Encoding when `enable_http_compression` is on, with X-ClickHouse-Format, -Timezone, -Query-Id, -Summary and
  -Server-Display-Name. Errors: `Code: <n>. DB::Exception: … (<NAME>) (version …)`, X-ClickHouse-Exception-Code and
  the HTTP status ClickHouse gives that code (404 unknown table, 408 timeout, 400 syntax, 500 otherwise).

What it does not: authentication (any user passes); sessions (`session_id`, and SET or USE, which a sessionless server
forgets but which here would stay in the shared chDB session, are refused); ClickHouse's own block compression
(`compress`/`decompress`); external data; progress headers and errors in the middle of a stream (answers are whole, as
with `wait_end_of_query=1`); `client_protocol_version`: it answers as a server before protocol 54405 (no block info),
as ClickHouse Cloud answers the function's client, which turns the driver's protocol probe off.

The request side is in tests.clickhouse_http_requests, the reply side (formats, compression, headers, errors) in
tests.clickhouse_http_replies.
"""

import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from agentmode.clickhouse import EmbeddedClickHouse, RawAnswer
from agentmode.settings import get_settings
from tests.clickhouse_http_replies import Replies, Reply, ServerError, not_implemented
from tests.clickhouse_http_requests import (
    INSERT_WITH_DATA,
    NAMED_FORMAT,
    ROW_STATEMENTS,
    SESSION_STATEMENTS,
    Request,
    as_sql,
    bound_parameters,
    first_keyword,
    literal,
    refuse_on_get,
    settings_clause,
    statement_settings,
    statement_text,
)


@dataclass(frozen=True)
class Exchange:
    """One request the stand-in answered: its parameters and form fields, and the reply's status and headers."""

    method: str
    fields: dict[str, str]
    request_headers: dict[str, str]
    status: int
    reply_headers: dict[str, str]


class ClickHouseHTTP:
    """A ClickHouse server on 127.0.0.1 as clickhouse-connect sees it, answering from `engine` (the session's chDB).

    `forced_settings` play a server profile's settings that the client cannot override (a test sets, say, a tiny
    `max_execution_time` to make the engine itself fail a real query)."""

    def __init__(self, engine: EmbeddedClickHouse) -> None:
        self.engine = engine
        self.forced_settings: dict[str, str] = {}
        self.exchanges: list[Exchange] = []
        self._exchanges_lock = threading.Lock()
        self._spool = tempfile.mkdtemp(prefix="clickhouse-http-")
        [server] = engine.query(
            "SELECT version() AS version, timezone() AS timezone, getSetting('enable_http_compression') AS compression", {}
        )
        self.version: str = server["version"]
        self.timezone: str = server["timezone"]
        self._replies = Replies(self.version, self.timezone, str(server["compression"]).lower() in ("1", "true"))
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def function_environment(self) -> dict[str, str]:
        """A deployed function's ClickHouse settings, pointed here: plain HTTP, the default user, no password."""
        return {"CLICKHOUSE_HOST": "127.0.0.1", "CLICKHOUSE_PORT": str(self.port), "CLICKHOUSE_SECURE": "false"}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        shutil.rmtree(self._spool, ignore_errors=True)

    def answer(self, request: Request) -> Reply:
        if request.path == "/ping":
            return Reply(200, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"})
        if request.path != "/":
            return Reply(404, f"There is no handle {request.path}\n".encode(), {"Content-Type": "text/plain; charset=UTF-8"})
        fields = dict(request.params)
        query_id = fields.get("query_id") or str(uuid.uuid4())
        try:
            text = statement_text(request, fields)
            answer, output_format = self._execute(request.method, text, fields)
        except ServerError as error:
            reply = self._replies.error(error, query_id)
        except RuntimeError as error:  # how chDB raises the engine's exceptions
            reply = self._replies.error(ServerError.from_engine(error), query_id)
        else:
            reply = self._replies.rows(answer, output_format, query_id, self._replies.encoding(request.headers, fields))
        with self._exchanges_lock:
            self.exchanges.append(Exchange(request.method, fields, request.headers, reply.status, reply.headers))
        return reply

    def _execute(self, method: str, text: bytes, fields: dict[str, str]) -> tuple[RawAnswer, str | None]:
        """The statement's answer and its output format (None for a statement that answers no rows)."""
        if fields.get("session_id"):
            raise not_implemented("sessions: each request stands alone")
        if "1" in (fields.get("compress"), fields.get("decompress")):
            raise not_implemented("ClickHouse's native block compression (compress, decompress)")
        params = bound_parameters(fields)
        settings = {**statement_settings(fields), **self.forced_settings}
        database = fields.get("database", "")
        insert = INSERT_WITH_DATA.match(text)
        if insert is not None:
            refuse_on_get(method)
            return self._insert(insert, text[insert.end() :], settings, params, database), None
        sql = as_sql(text)
        keyword = first_keyword(sql)
        if keyword in SESSION_STATEMENTS:
            raise not_implemented(f"{keyword}: it would outlive the request in the shared chDB session")
        if keyword not in ROW_STATEMENTS:
            refuse_on_get(method)
            return self.engine.query_bytes(sql, "TabSeparated", params, database), None
        named = NAMED_FORMAT.search(sql)
        output_format = named.group(1) if named else fields.get("default_format") or "TabSeparated"
        statement = sql.rstrip().rstrip(";") + settings_clause(settings)
        return self.engine.query_bytes(statement, output_format, params, database), output_format

    def _insert(
        self, insert: re.Match[bytes], data: bytes, settings: dict[str, str], params: dict[str, str], database: str
    ) -> RawAnswer:
        """chDB reads a query as text, so binary data goes through a file: INSERT ... FROM INFILE, in the same format."""
        target, data_format = as_sql(insert.group(1)), as_sql(insert.group(2))
        with tempfile.NamedTemporaryFile(dir=self._spool) as spooled:
            spooled.write(data)
            spooled.flush()
            statement = (
                f"INSERT INTO {target} FROM INFILE {literal(spooled.name)}{settings_clause(settings)} FORMAT {data_format}"
            )
            return self.engine.query_bytes(statement, "TabSeparated", params, database)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], stand_in: ClickHouseHTTP) -> None:
        self.stand_in = stand_in
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm the second waits for the client's delayed ACK.
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        url = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = Request(self.command, url.path, dict(parse_qsl(url.query, keep_blank_values=True)), headers, self._body())
        reply = self.server.stand_in.answer(request)
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            return

    def _body(self) -> bytes:
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0], 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            continue  # trailer fields, which ClickHouse ignores too
        return b"".join(chunks)

    do_GET = do_POST = _serve

    def log_message(self, *args: Any) -> None:
        return


@contextmanager
def reading_over_http(server: ClickHouseHTTP, **environment: str) -> Iterator[None]:
    """Until the block ends, the functions read ClickHouse as deployed: through clickhouse-connect from `server`.
    `environment` adds or overrides variables (CLICKHOUSE_DATABASE=...). Like a warm container, the function keeps its
    client (one per host, port and database) from one block to the next: making one costs ~0.1 s."""
    try:
        with pytest.MonkeyPatch.context() as env:
            for name, value in {**server.function_environment(), **environment}.items():
                env.setenv(name, value)
            get_settings.cache_clear()
            yield
    finally:
        get_settings.cache_clear()
