"""Cosine search over one user's memories, choosing the access path by how many rows the user has.

pgvector's HNSW index with a `user_id` filter only looks at `ef_search` candidates and then filters, so a user who
owns few of many rows gets almost nothing back; iterative scans fix recall but are slow for such a user. So: a user
with at most MEMORY_EXACT_SCAN_MAX_ROWS rows is scanned exactly (their rows by the user index, then sorted by
distance: recall 1.0); a larger user goes through the HNSW index with iterative scans, which finds their rows fast
because they are dense in it. Figures in bench/results/memory.json.
"""

from typing import Any
from uuid import UUID

from agentmode.db import Connection
from agentmode.settings import Settings

_FILTER = (
    "user_id = auth.uid() AND user_id = %(user)s AND embedding IS NOT NULL"
    " AND (expires_at IS NULL OR expires_at > now()) AND (%(type)s::text IS NULL OR memory_type = %(type)s)"
)
_COLUMNS = "id, memory_type, content, metadata, created_at, expires_at"

# MATERIALIZED keeps the planner from answering the ORDER BY with the HNSW index: the filter runs first.
EXACT = (
    f"WITH mine AS MATERIALIZED (SELECT {_COLUMNS}, embedding FROM agentmode.agent_memory WHERE {_FILTER})"
    f" SELECT {_COLUMNS}, 1 - (embedding <=> %(q)s::vector) AS similarity FROM mine"
    " ORDER BY embedding <=> %(q)s::vector LIMIT %(k)s"
)
# relaxed_order may return rows slightly out of order: the outer query sorts them.
INDEXED = (
    f"SELECT * FROM (SELECT {_COLUMNS}, 1 - (embedding <=> %(q)s::vector) AS similarity FROM agentmode.agent_memory"
    f" WHERE {_FILTER} ORDER BY embedding <=> %(q)s::vector LIMIT %(k)s) hits ORDER BY similarity DESC"
)


def user_rows_up_to(conn: Connection, user_id: UUID, cap: int) -> int:
    """The user's row count, counted no further than cap + 1 (cheap whatever the user's size)."""
    row = conn.execute(
        "SELECT count(*) AS n FROM (SELECT 1 FROM agentmode.agent_memory WHERE user_id = %s LIMIT %s) capped",
        (user_id, cap + 1),
    ).fetchone()
    return int(row["n"]) if row else 0


def search(
    conn: Connection, user_id: UUID, vector: list[float], memory_type: str | None, limit: int, settings: Settings
) -> list[dict[str, Any]]:
    params = {"user": user_id, "q": str(vector), "type": memory_type, "k": limit}
    if user_rows_up_to(conn, user_id, settings.memory_exact_scan_max_rows) <= settings.memory_exact_scan_max_rows:
        return conn.execute(EXACT, params).fetchall()
    conn.execute(
        "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('hnsw.ef_search', %s, true)",
        (str(settings.memory_ef_search),),
    )
    return conn.execute(INDEXED, params).fetchall()
