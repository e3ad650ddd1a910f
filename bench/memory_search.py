"""Timing cosine searches of bench.memory's corpus, and scoring them against an exact ranking.

Imported by bench.memory, which first puts the layer and memory_read on the import path (as Lambda does).
"""

import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg

from agentmode import db
from agentmode.identity import AuthUser
from agentmode.memory import vector_parameter
from agentmode.settings import Settings
from bench.errors import BenchError
from bench.memory_config import COUNT_CALLS, COUNT_CAPS, HNSW_INDEX, INLINE_TABLE, TABLE, TIE_EPSILON, WARMUP, K
from bench.memory_data import (
    Corpus,
    sample,
)
from bench.memory_load import vacuum_analyze
from memory_read.search import EXACT, INDEXED, search, user_rows_up_to

Runner = Callable[[db.Connection, uuid.UUID, list[float], str | None], list[dict[str, Any]]]


@dataclass(frozen=True)
class Query:
    """A query vector, the user asking, and what the exact ranking of that user's rows says the 10th distance is."""

    user: int
    vector: npt.NDArray[np.float64]
    kth_distance: float
    memory_type: str | None = None


@dataclass(frozen=True)
class AccessPath:
    """An access path to time. `prepare` runs in the transaction before the clock starts (an alternative's knobs)."""

    name: str
    run: Runner
    prepare: bytes | None = None


def make_queries(
    rng: np.random.Generator, corpus: Corpus, users: list[int], count: int, memory_type: str | None = None
) -> list[Query]:
    """`count` queries rotating over `users`, each drawn from its user's topic mix; the exact answer is computed here
    in float64 over that user's rows (of `memory_type`, if given): an exact scan in SQL would take minutes for the
    power user."""
    asking = [users[i % len(users)] for i in range(count)]
    queries: list[Query] = []
    for user in users:
        picks = [i for i, who in enumerate(asking) if who == user]
        vectors = sample(rng, corpus.topics, corpus.mixes[user], len(picks)).astype(np.float64)
        distances = 1.0 - corpus.vectors[corpus.rows_of(user, memory_type)].astype(np.float64) @ vectors.T
        kth = np.partition(distances, K - 1, axis=0)[K - 1]
        queries += [Query(user, vectors[j], float(kth[j]), memory_type) for j in range(len(picks))]
    by_user: dict[int, list[Query]] = {}
    for query in queries:
        by_user.setdefault(query.user, []).append(query)
    return [by_user[user].pop(0) for user in asking]


def hits(corpus: Corpus, query: Query, rows: list[dict[str, Any]]) -> int:
    """Rows among the exact top 10 (ties at float precision included); a row of another user is a functional error."""
    found = 0
    for row in rows:
        index = corpus.position[row["id"]]
        if corpus.owners[index] != query.user:
            raise BenchError(f"user {corpus.users[query.user]} was answered another user's row {row['id']}")
        if query.memory_type is not None and row["memory_type"] != query.memory_type:
            raise BenchError(f"a search for {query.memory_type} answered a {row['memory_type']} row")
        found += int(1.0 - float(corpus.vectors[index].astype(np.float64) @ query.vector) <= query.kth_distance + TIE_EPSILON)
    return found


def as_user(user: uuid.UUID) -> AuthUser:
    return AuthUser(id=user, role="authenticated", email=None, claims={"sub": str(user), "role": "authenticated"})


def hnsw_scans(admin: psycopg.Connection[Any]) -> int:
    """Scans of the HNSW index so far: the delta over a run says which path the queries really took."""
    admin.execute("SELECT pg_stat_clear_snapshot()")
    row = admin.execute("SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = %s", (HNSW_INDEX,)).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def flush_stats() -> None:
    """The measuring backend reports its counters before it next answers, not every second."""
    db.get_connection().execute("SELECT pg_stat_force_next_flush()")


def timed_search(path: AccessPath, corpus: Corpus, query: Query) -> tuple[float, list[dict[str, Any]]]:
    user = corpus.users[query.user]
    with db.user_transaction(as_user(user)) as conn:
        if path.prepare:
            conn.execute(path.prepare)
        started = time.perf_counter_ns()
        rows = path.run(conn, user, query.vector.tolist(), query.memory_type)
        elapsed_ms = (time.perf_counter_ns() - started) / 1e6
    return elapsed_ms, rows


def measure(
    admin: psycopg.Connection[Any], path: AccessPath, corpus: Corpus, queries: list[Query], warmup: int = WARMUP
) -> dict[str, Any]:
    """Warm-up queries first (untimed), then every query once: latency, recall@10, rows answered, index scans."""
    for query in queries[:warmup]:
        timed_search(path, corpus, query)
    flush_stats()
    scans_before = hnsw_scans(admin)
    latencies, recalls, short = [], [], 0
    for query in queries:
        elapsed_ms, rows = timed_search(path, corpus, query)
        latencies.append(elapsed_ms)
        recalls.append(hits(corpus, query, rows) / K)
        short += len(rows) != K
    flush_stats()
    scans = hnsw_scans(admin) - scans_before
    return {
        "path": path.name,
        "queries": len(queries),
        "user_rows": int(statistics.median(len(corpus.rows_of(q.user, q.memory_type)) for q in queries)),
        **latency_summary(latencies),
        "recall_at_10": round(statistics.fmean(recalls), 4),
        "min_recall_at_10": min(recalls),
        "queries_short_of_k": short,
        "hnsw_scans_per_query": round(scans / len(queries), 2),
    }


def latency_summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    p99 = statistics.quantiles(ordered, n=100, method="inclusive")[98] if len(ordered) > 1 else ordered[0]
    return {"p50_ms": round(statistics.median(ordered), 2), "p99_ms": round(p99, 2), "max_ms": round(ordered[-1], 2)}


def production(settings: Settings, name: str = "search() as configured") -> AccessPath:
    """The function's own code path: the capped count, then the exact scan or the HNSW index."""

    def run(conn: db.Connection, user: uuid.UUID, vector: list[float], memory_type: str | None) -> list[dict[str, Any]]:
        return search(conn, user, vector, memory_type, K, settings)

    return AccessPath(name, run)


def sql_path(name: str, sql: str, prepare: str | None = None) -> AccessPath:
    """One of search's statements run on its own (with the same parameters), optionally after session knobs."""

    def run(conn: db.Connection, user: uuid.UUID, vector: list[float], memory_type: str | None) -> list[dict[str, Any]]:
        return conn.execute(sql, {"user": user, "q": vector_parameter(conn, vector), "type": memory_type, "k": K}).fetchall()

    return AccessPath(name, run, prepare.encode() if prepare else None)


def exact_path_inline(settings: Settings) -> AccessPath:
    """search()'s exact path step for step (the capped count, on the real table's identical index, then EXACT) with
    the vectors read from the copy that stores them in the row."""
    exact = EXACT.replace(TABLE, INLINE_TABLE)

    def run(conn: db.Connection, user: uuid.UUID, vector: list[float], memory_type: str | None) -> list[dict[str, Any]]:
        if user_rows_up_to(conn, user, settings.memory_exact_scan_max_rows, memory_type) > settings.memory_exact_scan_max_rows:
            raise BenchError("the inline-storage comparison is for users on the exact path")
        return conn.execute(exact, {"user": user, "q": vector_parameter(conn, vector), "type": memory_type, "k": K}).fetchall()

    return AccessPath("search() exact path, vectors inline (STORAGE PLAIN copy)", run)


def forced_hnsw(iterative: str, ef_search: int) -> AccessPath:
    """The index whatever the planner thinks (it rightly prefers the user index for a small user): every plan that
    avoids it needs a sort or a bitmap scan, both switched off here."""
    knobs = {
        "enable_seqscan": "off",
        "enable_bitmapscan": "off",
        "enable_sort": "off",
        "hnsw.iterative_scan": iterative,
        "hnsw.ef_search": str(ef_search),
    }
    prepare = "SELECT " + ", ".join(f"set_config('{name}', '{value}', true)" for name, value in knobs.items())
    return sql_path(f"HNSW forced, iterative_scan={iterative}, ef_search={ef_search}", INDEXED, prepare)


def inline_copy(admin: psycopg.Connection[Any]) -> float:
    """A copy of the table whose vectors are stored in the heap row (STORAGE PLAIN) instead of TOAST, same RLS, same
    user index; a 1,024-dim vector (4 KB) is past TOAST's 2 KB threshold, and pgvector's type defaults to EXTERNAL."""
    started = time.perf_counter()
    for statement in (
        f"DROP TABLE IF EXISTS {INLINE_TABLE}",
        f"CREATE TABLE {INLINE_TABLE} (LIKE {TABLE})",
        f"ALTER TABLE {INLINE_TABLE} ALTER COLUMN embedding SET STORAGE PLAIN",
        f"INSERT INTO {INLINE_TABLE} SELECT * FROM {TABLE}",
        f"CREATE INDEX ON {INLINE_TABLE} (user_id, memory_type)",
        f"ALTER TABLE {INLINE_TABLE} ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY own ON {INLINE_TABLE} FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()))",
        f"GRANT SELECT ON {INLINE_TABLE} TO authenticated",
    ):
        admin.execute(statement.encode())
    vacuum_analyze(admin, INLINE_TABLE)
    admin.execute(b"CHECKPOINT")
    return round(time.perf_counter() - started, 1)


def capped_counts(corpus: Corpus, user: int) -> list[dict[str, Any]]:
    """What deciding the path costs a user bigger than the cap: the count reads cap + 1 index entries."""
    auth = as_user(corpus.users[user])
    figures = []
    for cap in COUNT_CAPS:
        latencies = []
        for _ in range(COUNT_CALLS):
            with db.user_transaction(auth) as conn:
                started = time.perf_counter_ns()
                user_rows_up_to(conn, corpus.users[user], cap)
                latencies.append((time.perf_counter_ns() - started) / 1e6)
        figures.append({"cap": cap, **latency_summary(latencies)})
    return figures
