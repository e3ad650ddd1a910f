"""Postgres access: one connection per container, user-scoped transactions under RLS as PostgREST runs them."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb

from agentmode.errors import AppError, ErrorCode
from agentmode.observability import logger
from agentmode.runtime_secrets import is_configured, secret_value
from agentmode.settings import Settings, get_settings

if TYPE_CHECKING:  # auth's request dependency calls into this module
    from agentmode.identity import AuthUser

Connection = psycopg.Connection[DictRow]
T = TypeVar("T")

DB_RETRY_AFTER_MS = 1000


class _ContainerConnection(threading.local):
    """Lambda runs one invocation at a time on one thread; per-thread keeps that true where threads share a process."""

    conn: Connection | None = None


_local = _ContainerConnection()


def _unavailable(reason: str) -> AppError:
    return AppError(
        ErrorCode.SERVICE_UNAVAILABLE, details={"service": "database", "reason": reason, "retry_after_ms": DB_RETRY_AFTER_MS}
    )


def get_connection() -> Connection:
    """The container's connection, reopened if a previous invocation left it closed or broken.

    DATABASE_URL is read (runtime_secrets) only to open a connection: a rotated URL is used by the connections
    opened once the secret's cache age has passed; connections opened before stay on the old credentials until they
    fail or close (Postgres keeps a session whose password changed). So the old credentials must stay valid for at
    least the cache age.
    """
    if _local.conn is None or _local.conn.closed or _local.conn.broken:
        settings = get_settings()
        url = _database_url(settings)
        try:
            _local.conn = psycopg.connect(
                make_conninfo(url, **_one_address(url)),
                autocommit=True,
                connect_timeout=settings.db_connect_timeout_seconds,
                # Supabase's pooler runs in transaction mode, where server-side prepared statements don't survive.
                prepare_threshold=None,
                row_factory=dict_row,
                application_name="agentmode",
            )
        except psycopg.OperationalError:
            raise _unavailable("connect failed") from None
    return _local.conn


def _database_url(settings: Settings) -> str:
    """Deployed, DATABASE_URL must be given: its default (a local server) would only hide the missing setting."""
    if settings.is_deployed() and not is_configured("database_url", settings):
        logger.error("DATABASE_URL is not set: no database to connect to", extra={"setting": "DATABASE_URL"})
        raise _unavailable("not configured")
    return secret_value("database_url", settings)


def _one_address(url: str) -> dict[str, str]:
    """libpq gives each address a host name resolves to the whole connect_timeout, so a pooler name with two
    addresses would wait twice the timeout, past a function's own. Resolve once and connect to the first address
    (the name stays `host`, for TLS); DNS rotation still spreads containers over the addresses."""
    params = conninfo_to_dict(url)
    host = str(params.get("host") or "")
    if not host or host.startswith("/") or "," in host or params.get("hostaddr"):
        return {}
    try:
        found = socket.getaddrinfo(host, params.get("port") or 5432, type=socket.SOCK_STREAM)
    except OSError:
        return {}  # libpq reports the unknown host in its own words
    return {"hostaddr": str(found[0][4][0])}


def close_connection() -> None:
    if _local.conn is not None:
        _local.conn.close()
        _local.conn = None


# Rate-limit hits are counters: a transaction whose only writes are counters commits without waiting for the WAL flush
# (a disk sync per request). A database crash can then forget the last ~0.6 s of hits (3 x wal_writer_delay), so a
# user gets a few more calls; nothing else is lost, and every other transaction keeps the server's durable commit.
# (take_api_call needs none of this: api_call_counts is UNLOGGED, and a commit that wrote no WAL waits for no flush.)
_ASYNC_COMMIT = "set_config('synchronous_commit', 'off', true)"


@contextmanager
def user_transaction(user: AuthUser, *, rollback: bool = False, counters_only: bool = False) -> Iterator[Connection]:
    """A transaction that runs as `authenticated` with the caller's JWT claims, so RLS isolates every row it touches.

    `rollback=True` undoes everything at the end: a look that must not count (e.g. a rate-limit check before a paid call).
    `counters_only=True` commits without waiting for the flush (_ASYNC_COMMIT): only where every write is a counter.
    """
    with _transaction_as("authenticated", user.claims, rollback=rollback, counters_only=counters_only) as conn:
        yield conn


def _has_open_connection() -> bool:
    return _local.conn is not None and not (_local.conn.closed or _local.conn.broken)


def _first_use(statement: Callable[[], T]) -> T:
    """Runs a request's first statement on the container's connection. A database restart or failover while the
    container sat idle leaves its connection dead, which shows right here, before any work: a reused connection is
    replaced once and the statement sent again, so a warm container does not fail its first request after a failover."""
    reused = _has_open_connection()
    try:
        return statement()
    except psycopg.OperationalError:
        close_connection()
        if not reused:
            raise
    return statement()


def _begin(stack: ExitStack, *, rollback: bool) -> Connection:
    """BEGIN on the container's connection (see _first_use)."""
    return _first_use(lambda: _enter_transaction(stack, rollback=rollback))


def login_statement(query: str, params: tuple[Any, ...]) -> DictRow | None:
    """One autocommit statement as the functions' own login role, outside any transaction and any JWT role: for the
    SECURITY DEFINER gates that must count even when the request's own transaction later rolls back. A connection
    that died while idle is replaced once, as at BEGIN."""
    try:
        return _first_use(lambda: get_connection().execute(query, params).fetchone())
    except (psycopg.errors.QueryCanceled, psycopg.errors.LockNotAvailable):
        raise _unavailable("statement timeout") from None
    except psycopg.OperationalError:
        close_connection()
        raise _unavailable("connection lost") from None


def _enter_transaction(stack: ExitStack, *, rollback: bool) -> Connection:
    conn = get_connection()
    stack.enter_context(conn.transaction(force_rollback=rollback))
    return conn


_LOGIN_AS = (
    "SELECT set_config('role', %s, true), set_config('request.jwt.claims', %s, true), set_config('statement_timeout', %s, true)"
)


@contextmanager
def _transaction_as(
    role: str, claims: dict[str, Any], *, rollback: bool = False, counters_only: bool = False
) -> Iterator[Connection]:
    try:
        with ExitStack() as stack:
            conn = _begin(stack, rollback=rollback)
            conn.execute(
                f"{_LOGIN_AS}, {_ASYNC_COMMIT}" if counters_only else _LOGIN_AS,
                (role, json.dumps(claims, default=str), str(get_settings().db_statement_timeout_ms)),
            )
            yield conn
    except psycopg.errors.QueryCanceled:
        raise _unavailable("statement timeout") from None
    except psycopg.OperationalError:
        close_connection()
        raise _unavailable("connection lost") from None


SERVICE_CLAIMS = {"role": "service_role"}


@contextmanager
def service_transaction() -> Iterator[Connection]:
    """A transaction as `service_role`, for work no user owns (Stripe's webhooks): RLS is bypassed by that role,
    and the grants in the migrations say what it may touch."""
    with _transaction_as("service_role", SERVICE_CLAIMS) as conn:
        yield conn


def jsonb(value: Any) -> Jsonb:
    return Jsonb(value)
