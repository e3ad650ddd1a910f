"""Postgres access: one connection per container, user-scoped transactions under RLS as PostgREST runs them."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb

from agentmode.auth import AuthUser
from agentmode.errors import AppError, ErrorCode
from agentmode.settings import get_settings

Connection = psycopg.Connection[DictRow]

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
    """The container's connection, reopened if a previous invocation left it closed or broken."""
    if _local.conn is None or _local.conn.closed or _local.conn.broken:
        settings = get_settings()
        try:
            _local.conn = psycopg.connect(
                settings.database_url.get_secret_value(),
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


def close_connection() -> None:
    if _local.conn is not None:
        _local.conn.close()
        _local.conn = None


@contextmanager
def user_transaction(user: AuthUser, *, rollback: bool = False) -> Iterator[Connection]:
    """A transaction that runs as `authenticated` with the caller's JWT claims, so RLS isolates every row it touches.

    `rollback=True` undoes everything at the end: a look that must not count (e.g. a rate-limit check before a paid call).
    """
    with _transaction_as("authenticated", user.claims, rollback=rollback) as conn:
        yield conn


@contextmanager
def _transaction_as(role: str, claims: dict[str, Any], *, rollback: bool = False) -> Iterator[Connection]:
    conn = get_connection()
    try:
        with conn.transaction(force_rollback=rollback):
            conn.execute(
                "SELECT set_config('role', %s, true),"
                " set_config('request.jwt.claims', %s, true),"
                " set_config('statement_timeout', %s, true)",
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
