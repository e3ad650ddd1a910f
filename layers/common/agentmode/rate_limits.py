"""Per-user rate limits (seed 001 §8), counted atomically in Postgres.

The limits live in `agentmode.rate_limit_policies` (one source of truth, changed with SQL); the functions name the
action only, so neither a caller nor a user with SQL access can choose their own limit.
"""

from typing import Any
from uuid import UUID

from agentmode.db import Connection, login_statement
from agentmode.errors import AppError, ErrorCode

AGENT_START = "agent_start"
MEMORY_WRITE = "memory_write"
MEMORY_READ = "memory_read"
API_CALL = "api_call"
ORG_INVITE = "org_invite"


def _exceeded(action: str, row: dict[str, Any]) -> AppError:
    return AppError(
        ErrorCode.RATE_LIMIT_EXCEEDED,
        details={
            "action": action,
            "limit": int(row["limit_count"]),
            "window_seconds": int(row["window_seconds"]),
            "retry_after_ms": int(row["retry_after_ms"]),
        },
    )


def enforce(conn: Connection, action: str) -> int:
    """Counts one use of `action` by the transaction's user (its JWT); raises 429 when over. Returns uses left."""
    row = conn.execute(
        "SELECT exceeded, remaining, retry_after_ms, limit_count, window_seconds FROM agentmode.take_quota(%s)", (action,)
    ).fetchone()
    assert row is not None
    if row["exceeded"]:
        raise _exceeded(action, row)
    return int(row["remaining"])


def peek(user_id: UUID, action: str) -> None:
    """Raises 429 if one more use of `action` would be refused now, taking none: the look before a paid call (an
    embedding). One autocommit statement as the functions' login role, for a user whose token was verified."""
    row = login_statement("SELECT * FROM agentmode.peek_quota(%s, %s)", (user_id, action))
    assert row is not None
    if row["exceeded"]:
        raise _exceeded(action, row)


def take_api_call(user_id: UUID) -> None:
    """Seed 001 §8's per-user API calls, counted once per authenticated request before any other work (so failed
    requests count too). A verified token whose user no longer exists is refused here, before any paid call."""
    row = login_statement("SELECT * FROM agentmode.take_api_call(%s)", (user_id,))
    assert row is not None
    if not row["user_exists"]:
        raise AppError(ErrorCode.UNAUTHORIZED, details={"reason": "unknown user"})
    if row["exceeded"]:
        raise _exceeded(API_CALL, row)
