"""Cosine search over one user's memories, choosing the access path by how many rows the user has.

pgvector's HNSW index with a `user_id` filter only looks at `ef_search` candidates and then filters, so a user who
owns few of many rows gets almost nothing back; iterative scans fix recall but are slow for such a user. So: a user
with at most MEMORY_EXACT_SCAN_MAX_ROWS matching rows is scanned exactly (their rows by the user index, then sorted by
distance: recall 1.0); a larger user goes through the HNSW index with iterative scans, which finds their rows fast
because they are dense in it, and falls back to the exact scan in the rare case the index gives up before k rows.
Figures in bench/results/memory.json (`python -m bench.memory`).
"""

from typing import Any
from uuid import UUID

from agentmode.db import Connection
from agentmode.memory import vector_parameter
from agentmode.settings import Settings

# `(SELECT auth.uid())` is computed once per statement; a bare `auth.uid()` would parse the JWT claims for every row.
_FILTER = (
    "user_id = (SELECT auth.uid()) AND user_id = %(user)s AND embedding IS NOT NULL"
    " AND (expires_at IS NULL OR expires_at > now()) AND (%(type)s::text IS NULL OR memory_type = %(type)s)"
)
_COLUMNS = "id, memory_type, content, metadata, created_at, expires_at"

# OFFSET 0 keeps the subquery from being merged into the outer query, so the planner cannot answer the ORDER BY with
# the HNSW index: the filter runs first (unlike a MATERIALIZED CTE, without copying the rows to a tuplestore). The
# distance is computed in the subquery, once per row (each computation reads and detoasts the 4 KB vector).
EXACT = (
    f"SELECT {_COLUMNS}, 1 - distance AS similarity FROM (SELECT {_COLUMNS}, embedding <=> %(q)b::vector AS distance"
    f" FROM agentmode.agent_memory WHERE {_FILTER} OFFSET 0) mine ORDER BY distance LIMIT %(k)s"
)
# relaxed_order may return rows slightly out of order: the outer query sorts them.
INDEXED = (
    f"SELECT * FROM (SELECT {_COLUMNS}, 1 - (embedding <=> %(q)b::vector) AS similarity FROM agentmode.agent_memory"
    f" WHERE {_FILTER} ORDER BY embedding <=> %(q)b::vector LIMIT %(k)s) hits ORDER BY similarity DESC"
)


def user_rows_up_to(conn: Connection, user_id: UUID, cap: int, memory_type: str | None = None) -> int:
    """The user's row count (of one type, if given), counted no further than cap + 1: an index-only scan of the
    (user_id, memory_type) index, cheap whatever the user's size. Per type, because a power user's rare type is as
    sparse in the HNSW index as a small user's rows."""
    row = conn.execute(
        "SELECT count(*) AS n FROM (SELECT 1 FROM agentmode.agent_memory"
        " WHERE user_id = %(user)s AND (%(type)s::text IS NULL OR memory_type = %(type)s) LIMIT %(cap)s) capped",
        {"user": user_id, "type": memory_type, "cap": cap + 1},
    ).fetchone()
    return int(row["n"]) if row else 0


def search(
    conn: Connection, user_id: UUID, vector: list[float], memory_type: str | None, limit: int, settings: Settings
) -> list[dict[str, Any]]:
    params = {"user": user_id, "q": vector_parameter(conn, vector), "type": memory_type, "k": limit}
    cap = settings.memory_exact_scan_max_rows
    if user_rows_up_to(conn, user_id, cap, memory_type) <= cap:
        return conn.execute(EXACT, params).fetchall()
    conn.execute(
        "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('hnsw.ef_search', %s, true)",
        (str(settings.memory_ef_search),),
    )
    rows = conn.execute(INDEXED, params).fetchall()
    # The iterative scan stops after hnsw.max_scan_tuples; a user with k matching rows must still get k back.
    return rows if len(rows) == limit else conn.execute(EXACT, params).fetchall()
