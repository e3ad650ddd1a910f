"""ClickHouse access: clickhouse-connect over HTTPS in the cloud, chDB (the same engine, in-process) locally.

Both run the same SQL text with server-side parameters (`{name:Type}`), so no value is ever spliced into a query.
Queries return plain JSON types (numbers, strings, lists, maps): callers convert times and decimals in SQL.
"""

import json
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from agentmode.errors import AppError, ErrorCode
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
        body = "\n".join(json.dumps(row, default=str) for row in rows)
        with self._lock:
            self._session.query(f"INSERT INTO {table} FORMAT JSONEachRow\n{body}")


# TIMEOUT_EXCEEDED, TOO_SLOW, TOO_MANY_SIMULTANEOUS_QUERIES, NO_FREE_CONNECTION, SOCKET_TIMEOUT, NETWORK_ERROR,
# MEMORY_LIMIT_EXCEEDED, TABLE_IS_READ_ONLY, NOT_ENOUGH_SPACE, TOO_MANY_PARTS, QUERY_WAS_CANCELLED.
TRANSIENT_SERVER_CODES = frozenset({159, 160, 202, 203, 209, 210, 241, 242, 243, 252, 394})


def _server_code(exc: Exception) -> int | None:
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    found = re.search(r"Code: (\d+)", str(exc))
    return int(found.group(1)) if found else None


# chDB reads parameter values in ClickHouse's escaped text format (as the HTTP interface does), so a backslash or a
# tab in a String would be read as an escape sequence; clickhouse-connect escapes the same characters.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0", "'": "\\'", "`": "\\`"})


def _as_text(params: Params) -> dict[str, str]:
    return {name: value.translate(_ESCAPES) if isinstance(value, str) else str(value) for name, value in params.items()}


def _identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


class RemoteClickHouse:
    """A ClickHouse server (ClickHouse Cloud) over HTTPS, one client per container (and per password)."""

    def __init__(self, settings: Settings, password: str) -> None:
        import clickhouse_connect
        from clickhouse_connect import common

        # The driver's protocol probe costs every new container a round trip to learn a revision whose extra block
        # info we never read; without it the server answers Native as to revision 0, decoded alike (LowCardinality too).
        common.set_setting("use_protocol_version", False)
        self._client = clickhouse_connect.get_client(
            host=settings.clickhouse_host,
            port=settings.clickhouse_port,
            username=settings.clickhouse_user,
            password=password,
            database=settings.clickhouse_database,
            secure=settings.clickhouse_secure,
            # The driver truncates timeouts to whole seconds (0.5 would become 0, an error): round up instead.
            connect_timeout=math.ceil(settings.clickhouse_connect_timeout_seconds),
            send_receive_timeout=math.ceil(settings.clickhouse_query_timeout_seconds),
            settings={"max_execution_time": math.ceil(settings.clickhouse_query_timeout_seconds)},
            autogenerate_session_id=False,
        )

    def query(self, sql: str, params: Params) -> list[Row]:
        from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

        try:
            return list(self._client.query(sql, parameters=dict(params)).named_results())
        except OperationalError:
            raise _unavailable("query failed to complete") from None
        except DatabaseError as exc:
            # The server's own transient failures (timeouts, too many queries, memory) are a retry, not a bug.
            if _server_code(exc) in TRANSIENT_SERVER_CODES:
                raise _unavailable("query failed to complete") from None
            raise

    def command(self, sql: str, params: Params | None = None) -> None:
        self._client.command(sql, parameters=dict(params or {}))

    def insert(self, table: str, rows: Sequence[Row]) -> None:
        if rows:
            columns = list(rows[0])
            self._client.insert(table, [[row[c] for c in columns] for row in rows], column_names=columns)


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
    from clickhouse_connect.driver.exceptions import Error as DriverError

    with _remote_lock:
        if key not in _remote or _remote[key][0] != password:
            try:
                _remote[key] = (password, RemoteClickHouse(settings, password))
            except (DriverError, OSError) as exc:
                logger.warning("clickhouse connect failed", extra={"error_type": type(exc).__name__})
                raise _unavailable("connect failed") from None
        return _remote[key][1]
