"""ClickHouse access: its HTTP interface over HTTPS in the cloud, chDB (the same engine, in-process) locally.

Both run the same SQL text with server-side parameters (`{name:Type}`), so no value is ever spliced into a query.
Queries return plain JSON types (numbers, strings, lists, maps): callers convert times and decimals in SQL.
"""

import base64
import http.client
import json
import math
import threading
import time
import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from agentmode.errors import AppError, ErrorCode
from agentmode.kept_connection import ConnectFailed, Exchange, KeptConnection
from agentmode.observability import logger
from agentmode.runtime_secrets import secret_value
from agentmode.settings import Settings, get_settings

Params = Mapping[str, str | int | float]
Row = dict[str, Any]

CLICKHOUSE_RETRY_AFTER_MS = 1000


class ClickHouse(Protocol):
    def query(self, sql: str, params: Params) -> list[Row]: ...

    def command(self, sql: str, params: Params | None = None) -> None: ...

    def insert(self, table: str, rows: Sequence[Row]) -> None: ...


def _unavailable(reason: str) -> AppError:
    return AppError(
        ErrorCode.SERVICE_UNAVAILABLE,
        details={"service": "clickhouse", "reason": reason, "retry_after_ms": CLICKHOUSE_RETRY_AFTER_MS},
    )


@dataclass(frozen=True)
class RawAnswer:
    """A statement's output as bytes, with the figures a server reports for it (its X-ClickHouse-Summary)."""

    data: bytes
    read_rows: int
    read_bytes: int
    written_rows: int
    written_bytes: int
    elapsed_ns: int


class EmbeddedClickHouse:
    """chDB under a local folder. chDB allows one session per process, so every user of a path shares it."""

    def __init__(self, path: str, query_timeout_seconds: float) -> None:
        import chdb.session

        self._lock = threading.Lock()
        self._session = chdb.session.Session(path)
        self._session.query(f"SET max_execution_time = {float(query_timeout_seconds)}")

    def query(self, sql: str, params: Params) -> list[Row]:
        with self._lock:
            result = self._session.query(sql, "JSON", params=_as_text(params))
        raw = result.bytes()
        return json.loads(raw)["data"] if raw else []

    def command(self, sql: str, params: Params | None = None) -> None:
        with self._lock:
            self._session.query(sql, params=_as_text(params or {}))

    def query_bytes(self, sql: str, fmt: str, params: Mapping[str, str], database: str = "") -> RawAnswer:
        """One statement as a ClickHouse server runs an HTTP request (tests serve chDB behind that interface): `params`
        in ClickHouse's escaped text form, as sent; in `database` if given (the session's own is restored after); the
        output in `fmt` unless the statement names its FORMAT."""
        with self._lock:
            if database:
                result = self._query_in(database, sql, fmt, params)
            else:
                result = self._session.query(sql, fmt, params=dict(params))
        return RawAnswer(
            result.bytes(),
            result.rows_read(),
            result.bytes_read(),
            result.rows_written(),
            result.bytes_written(),
            round(result.elapsed() * 1e9),
        )

    def _query_in(self, database: str, sql: str, fmt: str, params: Mapping[str, str]) -> Any:
        current = self._session.query("SELECT currentDatabase()", "TabSeparatedRaw").bytes().decode().removesuffix("\n")
        self._session.query(f"USE {_identifier(database)}")
        try:
            return self._session.query(sql, fmt, params=dict(params))
        finally:
            self._session.query(f"USE {_identifier(current)}")

    def close(self) -> None:
        """Ends the session: chDB's engine must shut down before the interpreter does, or exit can abort."""
        with self._lock:
            self._session.close()

    def insert(self, table: str, rows: Sequence[Row]) -> None:
        """Rows as JSONEachRow: the data part of an INSERT, never parsed as SQL; `table` comes from code."""
        with self._lock:
            self._session.query(json_each_row_insert(table, rows))


def json_each_row_insert(table: str, rows: Sequence[Row]) -> str:
    body = "\n".join(json.dumps(row, default=str) for row in rows)
    return f"INSERT INTO {table} FORMAT JSONEachRow\n{body}"


# TIMEOUT_EXCEEDED, TOO_SLOW, TOO_MANY_SIMULTANEOUS_QUERIES, NO_FREE_CONNECTION, SOCKET_TIMEOUT, NETWORK_ERROR,
# MEMORY_LIMIT_EXCEEDED, TABLE_IS_READ_ONLY, NOT_ENOUGH_SPACE, TOO_MANY_PARTS, QUERY_WAS_CANCELLED.
TRANSIENT_SERVER_CODES = frozenset({159, 160, 202, 203, 209, 210, 241, 242, 243, 252, 394})


# chDB reads parameter values in ClickHouse's escaped text format (as the HTTP interface does), so a backslash or a
# tab in a String would be read as an escape sequence; RemoteClickHouse sends them escaped the same way.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0", "'": "\\'", "`": "\\`"})


def _as_text(params: Params) -> dict[str, str]:
    return {name: value.translate(_ESCAPES) if isinstance(value, str) else str(value) for name, value in params.items()}


def _identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


class ClickHouseServerError(Exception):
    """A statement the server refused for a reason other than load or time (a bug of ours, or a missing schema):
    ClickHouse's error code only; its text, which names the host and version, stays out of logs and answers."""

    def __init__(self, code: int | None, status: int) -> None:
        super().__init__(f"ClickHouse refused the statement: code {code}, HTTP {status}")
        self.code = code
        self.status = status


# Above this many bytes of URL-encoded parameters (clickhouse-connect's own limit), they go in a multipart form instead
# of the URL, which proxies and load balancers cap.
MAX_URL_PARAMETER_BYTES = 4096
# ClickHouse Cloud answers 503 while an idle service wakes up or when it sheds load: sent again at once, twice.
ATTEMPTS = 3
RETRY_BACKOFF_SECONDS = 0.05


class RemoteClickHouse:
    """A ClickHouse server (ClickHouse Cloud) through its HTTP interface, each statement one POST over the container's
    kept connection (agentmode.kept_connection), answered in the JSON format that the embedded engine answers in.

    Why not clickhouse-connect (which `make clickhouse-schema` uses): its import and the two set-up requests each new
    client makes (the server's version and its whole `system.settings`, ~70 KB) were ~50 ms of the first request of
    traces and opsboard_projects (bench/functions.py), to run a few parameterized SELECTs. What a client must get right
    is here and tested against the real engine behind the HTTP stand-in (tests/clickhouse_http.py): server-side
    parameters in ClickHouse's escaped text form (never spliced into SQL), long ones in a form; the whole answer or a
    proper error (`wait_end_of_query`); gzip answers; bounded timeouts; error codes read from the
    X-ClickHouse-Exception-Code header."""

    def __init__(self, settings: Settings, password: str) -> None:
        scheme = "https" if settings.clickhouse_secure else "http"
        host = settings.clickhouse_host
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host  # an IPv6 address in a URL
        self._base = f"{scheme}://{host}:{settings.clickhouse_port}"
        credentials = base64.b64encode(f"{settings.clickhouse_user}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {credentials}", "Accept-Encoding": "gzip"}
        self._interface = {
            **({"database": settings.clickhouse_database} if settings.clickhouse_database else {}),
            "default_format": "JSON",
            "wait_end_of_query": "1",
            "enable_http_compression": "1",
            "max_execution_time": str(math.ceil(settings.clickhouse_query_timeout_seconds)),
        }
        self._connection = KeptConnection(settings.clickhouse_connect_timeout_seconds, settings.clickhouse_query_timeout_seconds)

    def query(self, sql: str, params: Params) -> list[Row]:
        answer = self._statement(sql, params)
        try:
            rows: list[Row] = json.loads(answer)["data"] if answer else []
        except (ValueError, KeyError, TypeError):
            # Cut short on the way (a proxy, a dropped stream): the statement may be sent again.
            logger.warning("clickhouse answer unreadable", extra={"bytes": len(answer)})
            raise _unavailable("query failed to complete") from None
        return rows

    def command(self, sql: str, params: Params | None = None) -> None:
        self._statement(sql, params or {})

    def insert(self, table: str, rows: Sequence[Row]) -> None:
        """Rows as JSONEachRow after the statement's FORMAT line, as EmbeddedClickHouse.insert sends them."""
        if rows:
            self._statement(json_each_row_insert(table, rows), {})

    def _statement(self, sql: str, params: Params) -> bytes:
        path, body, headers = self._request(sql, _as_text(params))
        status, answer_headers, answer = self._send(path, body, headers)
        for _ in range(ATTEMPTS - 1):
            if status != 503:
                break
            time.sleep(RETRY_BACKOFF_SECONDS)
            status, answer_headers, answer = self._send(path, body, headers)
        if status == 200:
            return zlib.decompress(answer, GZIP_WINDOW) if answer_headers.get("Content-Encoding") == "gzip" else answer
        code = _exception_code(answer_headers.get("X-ClickHouse-Exception-Code"))
        if status == 503 or code in TRANSIENT_SERVER_CODES:
            logger.warning("clickhouse query failed", extra={"status": status, "clickhouse_code": code})
            raise _unavailable("query failed to complete")
        raise ClickHouseServerError(code, status)

    def _send(self, path: str, body: bytes, headers: dict[str, str]) -> Exchange:
        try:
            return self._connection.exchange(self._base, "POST", path, body, headers)
        except ConnectFailed:
            logger.warning("clickhouse connect failed")
            raise _unavailable("connect failed") from None
        except (OSError, http.client.HTTPException) as exc:
            logger.warning("clickhouse request failed", extra={"error_type": type(exc).__name__})
            raise _unavailable("query failed to complete") from None

    def _request(self, sql: str, params: dict[str, str]) -> tuple[str, bytes, dict[str, str]]:
        """(path, body, headers): the statement as the body and its parameters in the URL, or, when they are long, both
        as fields of a multipart form."""
        bound = {f"param_{name}": value for name, value in params.items()}
        in_url = urlencode(bound, quote_via=quote)
        if len(in_url) <= MAX_URL_PARAMETER_BYTES:
            path = "/?" + urlencode(self._interface) + (f"&{in_url}" if in_url else "")
            return path, sql.encode(), {**self._headers, "Content-Type": "text/plain; charset=utf-8"}
        body, content_type = multipart_form({"query": sql, **bound})
        return "/?" + urlencode(self._interface), body, {**self._headers, "Content-Type": content_type}


GZIP_WINDOW = 16 + zlib.MAX_WBITS  # zlib's gzip framing: the zlib module is loaded anyway, gzip's is not


def multipart_form(fields: Mapping[str, str]) -> tuple[bytes, str]:
    """`fields` as multipart/form-data, with a boundary that occurs in none of the values."""
    values = [value.encode() for value in fields.values()]
    boundary = uuid.uuid4().hex
    while any(boundary.encode() in value for value in values):
        boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
        for name, value in zip(fields, values, strict=True)
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _exception_code(header: str | None) -> int | None:
    return int(header) if header and header.isdigit() else None


@lru_cache(maxsize=4)
def _embedded(path: str, query_timeout_seconds: float) -> EmbeddedClickHouse:
    ch = EmbeddedClickHouse(path, query_timeout_seconds)
    _opened[(path, query_timeout_seconds)] = ch
    return ch


def close_embedded() -> None:
    """Closes every chDB session this process opened (test sessions, the local runner, benchmarks at exit)."""
    for path_and_timeout in list(_opened):
        _opened.pop(path_and_timeout).close()
    _embedded.cache_clear()


_opened: dict[tuple[str, float], EmbeddedClickHouse] = {}
_remote_lock = threading.Lock()
# Each client with the password it was built with: a rotated CLICKHOUSE_PASSWORD replaces it.
_remote: dict[tuple[str, int, str], tuple[str, RemoteClickHouse]] = {}


def forget_remote_clients() -> None:
    """A fresh container's view (tests change CLICKHOUSE_HOST between cases); chDB sessions live for the process."""
    with _remote_lock:
        _remote.clear()


def get_clickhouse(settings: Settings | None = None) -> ClickHouse:
    """The container's ClickHouse: the server in CLICKHOUSE_HOST, else (local runs and tests only) chDB under
    CLICKHOUSE_LOCAL_PATH. CLICKHOUSE_PASSWORD is read per call (runtime_secrets caches it), so a rotated password
    gets a new client once its cache age passes."""
    settings = settings or get_settings()
    if not settings.clickhouse_host:
        if settings.is_deployed():
            # chDB is not shipped to Lambda (its import would fail as a 500), and it holds no deployed traces anyway.
            logger.error("CLICKHOUSE_HOST is not set: no ClickHouse server to read", extra={"setting": "CLICKHOUSE_HOST"})
            raise _unavailable("not configured")
        return _embedded(settings.clickhouse_local_path, settings.clickhouse_query_timeout_seconds)
    password = secret_value("clickhouse_password", settings)
    key = (settings.clickhouse_host, settings.clickhouse_port, settings.clickhouse_database)
    with _remote_lock:
        if key not in _remote or _remote[key][0] != password:
            _remote[key] = (password, RemoteClickHouse(settings, password))
        return _remote[key][1]
