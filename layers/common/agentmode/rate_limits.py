"""Per-user rate limits (seed 001 §8), counted atomically in Postgres by `agentmode.check_rate_limit`."""

from dataclasses import dataclass
from uuid import UUID

from agentmode.db import Connection
from agentmode.errors import AppError, ErrorCode


@dataclass(frozen=True)
class RateLimit:
    action: str
    limit: int
    window_seconds: int


AGENT_RUNS_PER_DAY_WINDOW = 86_400
MEMORY_WRITES = RateLimit("memory_write", 100, 3_600)
MEMORY_READS = RateLimit("memory_read", 500, 3_600)


def enforce(conn: Connection, user_id: UUID, rate: RateLimit) -> int:
    """Counts one use of `rate.action` inside the caller's transaction; raises 429 when over. Returns uses left."""
    row = conn.execute(
        "SELECT exceeded, remaining, retry_after_ms FROM agentmode.check_rate_limit(%s, %s, %s, %s)",
        (user_id, rate.action, rate.limit, rate.window_seconds),
    ).fetchone()
    assert row is not None
    if row["exceeded"]:
        raise AppError(
            ErrorCode.RATE_LIMIT_EXCEEDED,
            details={
                "action": rate.action,
                "limit": rate.limit,
                "window_seconds": rate.window_seconds,
                "retry_after_ms": int(row["retry_after_ms"]),
            },
        )
    return int(row["remaining"])
