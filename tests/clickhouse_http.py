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
so the client reads Native that way, where ClickHouse Cloud negotiates 54405.
"""

import gzip
import json
import re
import shutil
import tempfile
import threading
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import lz4.frame  # type: ignore[import-untyped]
import pytest
from backports import zstd

from agentmode.clickhouse import EmbeddedClickHouse, RawAnswer
from agentmode.settings import get_settings

DISPLAY_NAME = "chdb-http-stand-in"
# Parameters ClickHouse's HTTP handler consumes itself; every other one (but param_*) is a setting.
INTERFACE_PARAMETERS = frozenset(
    {
        "query",
        "database",
        "default_format",
        "query_id",
        "user",
        "password",
        "quota_key",
        "role",
        "stacktrace",
        "buffer_size",
        "wait_end_of_query",
        "client_protocol_version",
        "session_id",
        "session_timeout",
        "session_check",
        "close_session",
        "compress",
        "decompress",
    }
)
# Statements that answer rows in a format, and take a trailing SETTINGS clause.
ROW_STATEMENTS = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "CHECK"})
SESSION_STATEMENTS = frozenset({"SET", "USE"})
# ClickHouse's preference among the encodings a client accepts (chooseHTTPCompressionMethod: zstd, br, lz4, snappy,
# gzip, deflate, ...), limited to those made here; clickhouse-connect offers lz4, zstd, gzip and deflate.
ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "zstd": zstd.compress,
    "lz4": lz4.frame.compress,
    "gzip": gzip.compress,
    "deflate": zlib.compress,
}
DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "zstd": zstd.decompress,
    "lz4": lz4.frame.decompress,
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
}
# exceptionCodeToHTTPStatus in ClickHouse's src/Server/HTTP, by the error's name; any other error is a 500.
STATUS_BY_ERROR = {
    "REQUIRED_PASSWORD": 401,
    **dict.fromkeys(("UNKNOWN_USER", "WRONG_PASSWORD", "AUTHENTICATION_FAILED", "SET_NON_GRANTED_ROLE", "ACCESS_DENIED"), 403),
    **dict.fromkeys(
        (
            "BAD_ARGUMENTS",
            "CANNOT_COMPILE_REGEXP",
            "CANNOT_PARSE_TEXT",
            "CANNOT_PARSE_ESCAPE_SEQUENCE",
            "CANNOT_PARSE_QUOTED_STRING",
            "CANNOT_PARSE_DATE",
            "CANNOT_PARSE_DATETIME",
            "CANNOT_PARSE_NUMBER",
            "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING",
            "CANNOT_PARSE_IPV4",
            "CANNOT_PARSE_IPV6",
            "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
            "CANNOT_PARSE_UUID",
            "DUPLICATE_COLUMN",
            "ILLEGAL_COLUMN",
            "UNKNOWN_ELEMENT_IN_AST",
            "UNKNOWN_TYPE_OF_AST_NODE",
            "THERE_IS_NO_COLUMN",
            "TOO_DEEP_AST",
            "TOO_BIG_AST",
            "UNEXPECTED_AST_STRUCTURE",
            "SYNTAX_ERROR",
            "INCORRECT_DATA",
            "TYPE_MISMATCH",
            "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
        ),
        400,
    ),
    **dict.fromkeys(
        (
            "UNKNOWN_TABLE",
            "UNKNOWN_FUNCTION",
            "UNKNOWN_IDENTIFIER",
            "UNKNOWN_TYPE",
            "UNKNOWN_STORAGE",
            "UNKNOWN_DATABASE",
            "UNKNOWN_SETTING",
            "UNKNOWN_DIRECTION_OF_SORTING",
            "UNKNOWN_AGGREGATE_FUNCTION",
            "UNKNOWN_FORMAT",
            "UNKNOWN_DATABASE_ENGINE",
            "UNKNOWN_TYPE_OF_QUERY",
            "UNKNOWN_ROLE",
        ),
        404,
    ),
    "QUERY_IS_TOO_LARGE": 413,
    "NOT_IMPLEMENTED": 501,
    **dict.fromkeys(("SOCKET_TIMEOUT", "CANNOT_OPEN_FILE", "CANNOT_SCHEDULE_TASK"), 503),
    "HTTP_LENGTH_REQUIRED": 411,
    "TIMEOUT_EXCEEDED": 408,
    "UNSUPPORTED_MEDIA_TYPE": 415,
}

_ENGINE_ERROR = re.compile(r"Code: (\d+)\. DB::Exception: (.*) \(([A-Z0-9_]+)\)\s*$", re.DOTALL)
# Leading blanks, comments and parentheses, then the statement's first keyword.
_FIRST_KEYWORD = re.compile(r"(?:\s|--[^\n]*(?:\n|$)|/\*.*?\*/|\()*([A-Za-z]+)", re.DOTALL)
_NAMED_FORMAT = re.compile(r"\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$", re.IGNORECASE)
# An INSERT into a table (and a column list) whose data follows its FORMAT line; ClickHouse's parser skips blanks and
# one line end before the data.
_INSERT_WITH_DATA = re.compile(rb"\s*INSERT\s+INTO\s+([^\s(]+(?:\s*\([^)]*\))?)\s+FORMAT\s+(\w+)[ \t\f]*\r?\n?", re.IGNORECASE)
_SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?')
_FORM_NAME = re.compile(rb'name="([^"]*)"')


class ServerError(Exception):
    """An exception as ClickHouse reports it: its code, its name and its message."""

    def __init__(self, code: int, name: str, message: str) -> None:
        super().__init__(message)
        self.code, self.name, self.message = code, name, message

    @classmethod
    def from_engine(cls, error: RuntimeError) -> "ServerError":
        found = _ENGINE_ERROR.search(str(error))
        if found is None:
            return cls(1001, "STD_EXCEPTION", str(error))
        return cls(int(found.group(1)), found.group(3), found.group(2))


def _not_implemented(what: str) -> ServerError:
    return ServerError(48, "NOT_IMPLEMENTED", f"The ClickHouse HTTP stand-in does not support {what}")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


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
        self._compression_by_default = str(server["compression"]).lower() in ("1", "true")
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
            text = self._statement_text(request, fields)
            answer, output_format = self._execute(request.method, text, fields)
        except ServerError as error:
            reply = self._error(error, query_id)
        except RuntimeError as error:  # how chDB raises the engine's exceptions
            reply = self._error(ServerError.from_engine(error), query_id)
        else:
            reply = self._rows(answer, output_format, query_id, self._encoding(request, fields))
        with self._exchanges_lock:
            self.exchanges.append(Exchange(request.method, fields, request.headers, reply.status, reply.headers))
        return reply

    def _statement_text(self, request: Request, fields: dict[str, str]) -> bytes:
        """The statement and any INSERT data, as one byte stream; form fields join `fields`."""
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            fields.update(_form_fields(content_type, request.body))
            return fields.get("query", "").encode()
        body = _decoded_body(request)
        query = fields.get("query", "")
        return (query + "\n").encode() + body if query else body

    def _execute(self, method: str, text: bytes, fields: dict[str, str]) -> tuple[RawAnswer, str | None]:
        """The statement's answer and its output format (None for a statement that answers no rows)."""
        if fields.get("session_id"):
            raise _not_implemented("sessions: each request stands alone")
        if "1" in (fields.get("compress"), fields.get("decompress")):
            raise _not_implemented("ClickHouse's native block compression (compress, decompress)")
        params = {name.removeprefix("param_"): value for name, value in fields.items() if name.startswith("param_")}
        settings = {
            **{
                name: value
                for name, value in fields.items()
                if name not in INTERFACE_PARAMETERS and not name.startswith("param_")
            },
            **self.forced_settings,
        }
        database = fields.get("database", "")
        insert = _INSERT_WITH_DATA.match(text)
        if insert is not None:
            _refuse_on_get(method)
            return self._insert(insert, text[insert.end() :], settings, params, database), None
        sql = _as_sql(text)
        keyword = _first_keyword(sql)
        if keyword in SESSION_STATEMENTS:
            raise _not_implemented(f"{keyword}: it would outlive the request in the shared chDB session")
        if keyword not in ROW_STATEMENTS:
            _refuse_on_get(method)
            return self.engine.query_bytes(sql, "TabSeparated", params, database), None
        named = _NAMED_FORMAT.search(sql)
        output_format = named.group(1) if named else fields.get("default_format") or "TabSeparated"
        statement = sql.rstrip().rstrip(";") + _settings_clause(settings)
        return self.engine.query_bytes(statement, output_format, params, database), output_format

    def _insert(
        self, insert: re.Match[bytes], data: bytes, settings: dict[str, str], params: dict[str, str], database: str
    ) -> RawAnswer:
        """chDB reads a query as text, so binary data goes through a file: INSERT ... FROM INFILE, in the same format."""
        target, data_format = _as_sql(insert.group(1)), _as_sql(insert.group(2))
        with tempfile.NamedTemporaryFile(dir=self._spool) as spooled:
            spooled.write(data)
            spooled.flush()
            statement = (
                f"INSERT INTO {target} FROM INFILE {_literal(spooled.name)}{_settings_clause(settings)} FORMAT {data_format}"
            )
            return self.engine.query_bytes(statement, "TabSeparated", params, database)

    def _encoding(self, request: Request, fields: dict[str, str]) -> str | None:
        enabled = fields.get("enable_http_compression")
        if not (self._compression_by_default if enabled is None else enabled in ("1", "true")):
            return None
        accepted = request.headers.get("accept-encoding", "")
        return next((name for name in ENCODERS if name in accepted), None)

    def _headers(self, query_id: str) -> dict[str, str]:
        return {
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": self.timezone,
            "X-ClickHouse-Server-Display-Name": DISPLAY_NAME,
        }

    def _rows(self, answer: RawAnswer, output_format: str | None, query_id: str, encoding: str | None) -> Reply:
        summary = {
            "read_rows": answer.read_rows,
            "read_bytes": answer.read_bytes,
            "written_rows": answer.written_rows,
            "written_bytes": answer.written_bytes,
            "elapsed_ns": answer.elapsed_ns,
        }
        # ClickHouse writes the summary's figures as strings.
        headers = {**self._headers(query_id), "X-ClickHouse-Summary": json.dumps({k: str(v) for k, v in summary.items()})}
        headers["Content-Type"] = _content_type(output_format)
        if output_format is not None:
            headers["X-ClickHouse-Format"] = output_format
        body = answer.data
        if encoding is not None:
            body = ENCODERS[encoding](body)
            headers["Content-Encoding"] = encoding
        return Reply(200, body, headers)

    def _error(self, error: ServerError, query_id: str) -> Reply:
        text = f"Code: {error.code}. DB::Exception: {error.message} ({error.name}) (version {self.version} (official build))\n"
        headers = {
            **self._headers(query_id),
            "Content-Type": "text/plain; charset=UTF-8",
            "X-ClickHouse-Exception-Code": str(error.code),
        }
        return Reply(STATUS_BY_ERROR.get(error.name, 500), text.encode(), headers)


def _refuse_on_get(method: str) -> None:
    """ClickHouse runs GET requests read-only."""
    if method == "GET":
        raise ServerError(
            164, "READONLY", "Cannot execute query in readonly mode. For queries over HTTP, method GET implies readonly"
        )


def _decoded_body(request: Request) -> bytes:
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return request.body
    if encoding not in DECODERS:
        raise ServerError(36, "BAD_ARGUMENTS", f"Unknown compression method: {encoding}")
    return DECODERS[encoding](request.body)


def _form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The text fields of a multipart form; a file field would be external data (a temporary table)."""
    boundary = _BOUNDARY.search(content_type)
    if boundary is None:
        raise ServerError(36, "BAD_ARGUMENTS", "multipart/form-data without a boundary")
    fields = {}
    for part in body.split(b"--" + boundary.group(1).encode())[1:-1]:
        head, _, value = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if b"filename=" in head:
            raise _not_implemented("external data")
        name = _FORM_NAME.search(head)
        if name is not None:
            fields[name.group(1).decode()] = value.removesuffix(b"\r\n").decode()
    return fields


def _as_sql(text: bytes) -> str:
    try:
        return text.decode()
    except UnicodeDecodeError:
        raise ServerError(62, "SYNTAX_ERROR", "The statement is not valid UTF-8") from None


def _first_keyword(sql: str) -> str:
    found = _FIRST_KEYWORD.match(sql)
    if found is None:
        raise ServerError(62, "SYNTAX_ERROR", "Empty query")
    return found.group(1).upper()


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _settings_clause(settings: dict[str, str]) -> str:
    """On a line of its own (the statement may end in a comment); a statement's own SETTINGS still win, as on a server."""
    if not settings:
        return ""
    for name in settings:
        if not _SETTING_NAME.fullmatch(name):
            raise ServerError(115, "UNKNOWN_SETTING", f"Unknown setting '{name}'")
    return "\nSETTINGS " + ", ".join(f"{name} = {_literal(value)}" for name, value in settings.items())


def _content_type(output_format: str | None) -> str:
    if output_format is None or output_format.startswith(("TabSeparated", "TSV")):
        return "text/tab-separated-values; charset=UTF-8"
    if output_format.startswith("JSON"):
        return "application/json; charset=UTF-8"
    if output_format.startswith("CSV"):
        return "text/csv; charset=UTF-8; header=absent"
    return "application/octet-stream"


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
