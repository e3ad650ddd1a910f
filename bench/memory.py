"""`python -m bench.memory`: agent memory at scale on the embedded Postgres (pgvector), writes and cosine search.

Two shapes: (a) 100,000 memories across 100 users (1,000 each); (b) the same plus one power user who owns 100,000 more
(200,000 rows, half of them theirs). Vectors have the production dimension (1,024, Titan Text Embeddings V2) and are
synthetic: topics grouped in domains, each topic with a low-dimensional spread of its own, noise in every dimension
and a direction all vectors share (see `VECTORS`), so that nearest neighbours mean something, as with real
embeddings, while no dimension is free. `--flat-topics` makes every topic orthogonal to every other instead, the
harshest case for the HNSW graph (results in memory_flat_topics.json).

Measured: bulk load (binary COPY, rows/s), the HNSW build after each load, single writes through memory_write's handler
(embedding timed apart), the local embedding model alone, and `memory_read.search` itself inside an open user
transaction (embedding excluded) for a small user in each shape and for the power user, with recall@10 against an
exact ranking of that user's rows; also the power user asking for one memory type (5,000 rows: a mid-sized user as
far as the index can tell). For context, the alternatives the issue names (the HNSW index forced with and without
iterative scans, the exact scan for the power user), vectors stored inline instead of in TOAST, the cost of the
capped count by cap, and an ef_search sweep of the power user's paths.

Exit 1 on a functional error only (a search not answering k rows, another user's row, a write refused); a target
missed is reported, with the figures that explain it.
"""

import argparse
import atexit
import contextlib
import json
import os
import re
import shutil
import statistics
import struct
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt
import psycopg

from bench.functions import machine_info
from local.apigw_event import build_event
from local.lambda_runtime import LAYER_DIR, Handler, LambdaContext, load_handler
from local.stack import MIGRATIONS_DIR, ROOT, apply_migrations, start_postgres
from local.token import mint_token

# memory_read's code and the layer, on the path as Lambda (and pytest, from pyproject) puts them; Powertools reads its
# settings when the layer is imported. The functions' own logs stay quiet unless something goes wrong.
sys.path[:0] = [str(path) for path in (LAYER_DIR, ROOT / "functions" / "memory_read") if str(path) not in sys.path]
os.environ.update(
    POWERTOOLS_SERVICE_NAME="MemoryBench",
    POWERTOOLS_METRICS_DISABLED="true",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_LOG_LEVEL="WARNING",
)

from agentmode import db  # noqa: E402 - importable only once the layer is on the path
from agentmode.auth import AuthUser  # noqa: E402
from agentmode.embeddings import Embedder, embedder_for  # noqa: E402
from agentmode.settings import Settings, get_settings  # noqa: E402
from bench.memory_data import (  # noqa: E402
    DIMENSION,
    DOMAINS,
    FLAT_TOPICS,
    MEMORY_TYPES,
    ONE_TYPE,
    POWER_USER_ROWS,
    SEED,
    SMALL_USER_ROWS,
    SMALL_USERS,
    TOPICS,
    VECTORS,
    Batch,
    Corpus,
    make_topics,
    power_user_batch,
    sample,
    small_users_batch,
)
from memory_read.search import EXACT, INDEXED, search, user_rows_up_to  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
WRITE_FUNCTION_DIR = ROOT / "functions" / "memory_write"
TABLE = "agentmode.agent_memory"
INLINE_TABLE = "agentmode.agent_memory_inline"
HNSW_INDEX = "agent_memory_embedding_hnsw_idx"
MEMORY_MIGRATION = MIGRATIONS_DIR / "20261125000500_agent_memory.sql"
JWT_SECRET = "bench-only-hs256-secret-of-at-least-32-bytes"  # noqa: S105 - signs tokens for a throwaway database


K = 10
QUERIES = 200
QUERY_USERS = 10  # the small-user queries rotate over this many users, as a container serving many users sees them
WARMUP = 10
POWER_EXACT_QUERIES = 10  # the power user's exact scan takes most of a second a query
EF_SWEEP = (40, 64, 100, 200)
COUNT_CAPS = (1_000, 2_000, 5_000, 20_000)
COUNT_CALLS = 100
EMBED_CALLS = 200
API_WRITE_USERS, API_WRITES_PER_USER = 3, 100  # MEMORY_WRITES allows 100 writes an hour per user
MAINTENANCE_WORK_MEM = "2GB"  # the 200k-row graph (about 1.6 GB) fits, so the build never spills
COPY_CHUNK_ROWS = 5_000
TIE_EPSILON = 1e-5  # a returned row within this cosine distance of the exact 10th counts as a hit (float32 ties)

TARGETS = {"small_p50_ms": 3.0, "small_p99_ms": 10.0, "small_recall": 1.0, "power_p50_ms": 8.0, "power_recall": 0.95}

Runner = Callable[[db.Connection, uuid.UUID, list[float], str | None], list[dict[str, Any]]]


class BenchError(Exception):
    """A functional failure: the figures of such a run mean nothing."""


# --- loading --------------------------------------------------------------------------------------------------------

COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
COPY_SQL = f"COPY {TABLE} (id, user_id, memory_type, content, embedding) FROM STDIN (FORMAT BINARY)"


def encode_copy(batch: Batch) -> list[bytes]:
    """Binary COPY tuples (pgvector's binary form: int16 dims, int16 unused, big-endian float4s), encoded before the
    clock starts so the load figure is the database's, not Python's."""
    vector_header = struct.pack(">ihh", 4 + 4 * DIMENSION, DIMENSION, 0)
    big_endian = batch.vectors.astype(">f4")
    chunks = []
    for start in range(0, len(batch.ids), COPY_CHUNK_ROWS):
        rows = []
        for i in range(start, min(start + COPY_CHUNK_ROWS, len(batch.ids))):
            kind, content = batch.types[i].encode(), batch.contents[i].encode()
            ids = struct.pack(">hi16si16si", 5, 16, batch.ids[i].bytes, 16, batch.users[i].bytes, len(kind))
            text = kind + struct.pack(">i", len(content)) + content
            rows.append(ids + text + vector_header + big_endian[i].tobytes())
        chunks.append(b"".join(rows))
    return chunks


def add_auth_users(admin: psycopg.Connection[Any], users: list[uuid.UUID]) -> None:
    with admin.cursor().copy("COPY auth.users (id, email) FROM STDIN") as copy:
        for user in users:
            copy.write_row((user, f"{user}@bench.local"))


def bulk_load(admin: psycopg.Connection[Any], batch: Batch) -> dict[str, Any]:
    """One binary COPY as the admin (an import bypasses RLS), with no HNSW index on the table: it is built after."""
    chunks = encode_copy(batch)
    started = time.perf_counter()
    with admin.cursor().copy(COPY_SQL) as copy:
        copy.write(COPY_HEADER)
        for chunk in chunks:
            copy.write(chunk)
        copy.write(COPY_TRAILER)
    seconds = time.perf_counter() - started
    size = sum(map(len, chunks))
    return {
        "rows": len(batch.ids),
        "seconds": round(seconds, 2),
        "rows_per_s": round(len(batch.ids) / seconds),
        "mb_per_s": round(size / seconds / 1e6, 1),
    }


def hnsw_definition() -> str:
    """The migration's own CREATE INDEX, so the bench builds whatever m / ef_construction the migration says."""
    match = re.search(rf"CREATE INDEX {HNSW_INDEX}\b.*?;", MEMORY_MIGRATION.read_text(), flags=re.DOTALL)
    if match is None:
        raise BenchError(f"no `CREATE INDEX {HNSW_INDEX}` in {MEMORY_MIGRATION.name}")
    return match.group(0)


def drop_hnsw(admin: psycopg.Connection[Any]) -> None:
    admin.execute(f"DROP INDEX IF EXISTS agentmode.{HNSW_INDEX}")


def vacuum_analyze(admin: psycopg.Connection[Any], table: str = TABLE) -> None:
    """Statistics for the planner and an all-visible map, so the capped count is an index-only scan."""
    admin.execute(f"VACUUM (ANALYZE) {table}".encode())


def build_hnsw(admin: psycopg.Connection[Any]) -> dict[str, Any]:
    """Built after loading (far faster than growing it row by row), with pgvector's notices kept: one says when the
    graph outgrew maintenance_work_mem."""
    notices: list[str] = []

    def keep(diagnostic: psycopg.errors.Diagnostic) -> None:
        notices.append(str(diagnostic.message_primary))

    admin.add_notice_handler(keep)
    definition = hnsw_definition()
    admin.execute(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'".encode())
    started = time.perf_counter()
    admin.execute(definition.encode())
    seconds = time.perf_counter() - started
    admin.execute(b"RESET maintenance_work_mem")
    admin.execute(b"CHECKPOINT")  # the build's writes flushed now, not while the searches are timed
    admin.remove_notice_handler(keep)
    size = admin.execute("SELECT pg_relation_size(%s::regclass)", (f"agentmode.{HNSW_INDEX}",)).fetchone()
    return {
        "definition": " ".join(definition.split()),
        "seconds": round(seconds, 1),
        "size_mb": round((size[0] if size else 0) / 2**20),
        "maintenance_work_mem": MAINTENANCE_WORK_MEM,
        "notices": notices,
    }


def table_sizes(admin: psycopg.Connection[Any]) -> dict[str, int]:
    row = admin.execute(
        "SELECT count(*), pg_relation_size(%(t)s::regclass), pg_table_size(%(t)s::regclass), pg_indexes_size(%(t)s::regclass)"
        f" FROM {TABLE}",
        {"t": TABLE},
    ).fetchone()
    assert row is not None
    rows, heap, table, indexes = row
    return {"rows": rows, "heap_mb": heap >> 20, "toast_mb": (table - heap) >> 20, "indexes_mb": indexes >> 20}


# --- searching ------------------------------------------------------------------------------------------------------


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
        return conn.execute(sql, {"user": user, "q": str(vector), "type": memory_type, "k": K}).fetchall()

    return AccessPath(name, run, prepare.encode() if prepare else None)


def exact_path_inline(settings: Settings) -> AccessPath:
    """search()'s exact path step for step (the capped count, on the real table's identical index, then EXACT) with
    the vectors read from the copy that stores them in the row."""
    exact = EXACT.replace(TABLE, INLINE_TABLE)

    def run(conn: db.Connection, user: uuid.UUID, vector: list[float], memory_type: str | None) -> list[dict[str, Any]]:
        if user_rows_up_to(conn, user, settings.memory_exact_scan_max_rows, memory_type) > settings.memory_exact_scan_max_rows:
            raise BenchError("the inline-storage comparison is for users on the exact path")
        return conn.execute(exact, {"user": user, "q": str(vector), "type": memory_type, "k": K}).fetchall()

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


# --- embedding and the write path -----------------------------------------------------------------------------------

QUERY_TEXTS = (
    "What tone should our {channel} ads use for {audience}?",
    "Which hooks worked best for {audience} on {channel}?",
    "How did the {campaign} campaign perform on {channel}?",
    "What do we know about {competitor}'s pricing for {audience}?",
    "Preferred video length on {channel} for the {campaign}",
    "brand colors and logo rules for the {campaign} on {channel}",
    "Did {audience} respond better to testimonials or demos in the {campaign}?",
    "what did {competitor} post on {channel} last quarter",
    "Is {competitor} also targeting {audience}?",
    "best time to post on {channel} for {audience}",
)
MEMORY_TEXTS = (
    "The {campaign} campaign on {channel} reached {n} views; the pain-point hook beat the feature hook by {p} %.",
    "{audience} prefer short captions and a clear call to action in the first {n} seconds.",
    "{competitor} cut its entry price to ${n} a month and now leads with integrations (note #{p}).",
    "Brand voice for {channel}: professional yet approachable, no slang, one emoji at most (rule {n}.{p}).",
)
FILLS = {
    "channel": ("TikTok", "Instagram Reels", "YouTube Shorts", "LinkedIn", "Facebook"),
    "audience": ("operations managers", "finance teams", "IT admins", "startup founders", "HR leads"),
    "campaign": ("spring launch", "Q3 webinar", "holiday promo", "free trial push", "case study series"),
    "competitor": ("Zapier", "Monday.com", "Asana", "Airtable", "Notion"),
}


def texts(rng: np.random.Generator, templates: tuple[str, ...], count: int) -> list[str]:
    """Realistic short texts (5-25 words), all different."""
    made: dict[str, None] = {}
    for _ in range(100 * count):
        fills = {name: str(rng.choice(values)) for name, values in FILLS.items()}
        made[str(rng.choice(templates)).format(**fills, n=int(rng.integers(2, 90_000)), p=int(rng.integers(2, 99)))] = None
        if len(made) == count:
            return list(made)
    raise BenchError(f"the templates make fewer than {count} different texts")


def time_embedding(embedder: Embedder, queries: list[str]) -> dict[str, Any]:
    """The local model alone, warm (its first call loads it); production's Bedrock call is network-bound instead."""
    loading = time.perf_counter()
    embedder.embed("warm-up")
    load_seconds = time.perf_counter() - loading
    for text in queries[:WARMUP]:
        embedder.embed(text)
    latencies = []
    for text in queries:
        started = time.perf_counter_ns()
        embedder.embed(text)
        latencies.append((time.perf_counter_ns() - started) / 1e6)
    return {
        "provider": f"{embedder.name} (all-MiniLM-L6-v2 on CPU, padded to {embedder.dimension})",
        "calls": len(queries),
        "first_call_s": round(load_seconds, 1),
        **latency_summary(latencies),
    }


def timing_embeds(embedder: Embedder, log: list[float]) -> None:
    """Wraps the container's embedder so each write's embedding time is recorded apart from the rest of the request."""
    inner = embedder.embed

    def embed(text: str) -> list[float]:
        started = time.perf_counter_ns()
        try:
            return inner(text)
        finally:
            log.append((time.perf_counter_ns() - started) / 1e6)

    setattr(embedder, "embed", embed)  # noqa: B010 - an instance attribute shadowing the method, as a patch


def write_event(token: str, content: str, memory_type: str) -> dict[str, Any]:
    body = json.dumps({"content": content, "memory_type": memory_type}).encode()
    headers = [("content-type", "application/json"), ("authorization", f"Bearer {token}")]
    return build_event(
        method="POST",
        path="/agent/write-memory",
        raw_query="",
        headers=headers,
        body=body,
        route_key="POST /agent/write-memory",
        path_parameters={},
    )


def api_writes(admin: psycopg.Connection[Any], rng: np.random.Generator, embedder: Embedder, log: TextIO) -> dict[str, Any]:
    """Single writes through memory_write's handler (JWT, quota, embedding, upsert, HNSW insert), one at a time, as
    a warm container serves them, into the 200k-row table; a few untimed ones first, by another user."""
    users = [
        uuid.UUID(int=int(rng.integers(1 << 62)) << 64 | int(rng.integers(1 << 62)), version=4)
        for _ in range(API_WRITE_USERS + 1)
    ]
    add_auth_users(admin, users)
    with contextlib.redirect_stdout(log):
        handler = load_handler(WRITE_FUNCTION_DIR)
    embed_ms: list[float] = []
    timing_embeds(embedder, embed_ms)
    warm_token = mint_token(users[0], JWT_SECRET)
    for content in texts(rng, MEMORY_TEXTS, WARMUP):
        call_handler(handler, write_event(warm_token, content, "insight"), log)
    embed_ms.clear()
    latencies: list[float] = []
    started = time.perf_counter()
    for user in users[1:]:
        token = mint_token(user, JWT_SECRET)
        for content in texts(rng, MEMORY_TEXTS, API_WRITES_PER_USER):
            latencies.append(call_handler(handler, write_event(token, content, str(rng.choice(MEMORY_TYPES))), log))
    seconds = time.perf_counter() - started
    rest = [total - embedding for total, embedding in zip(latencies, embed_ms, strict=True)]
    return {
        "writes": len(latencies),
        "seconds": round(seconds, 2),
        "rows_per_s": round(len(latencies) / seconds, 1),
        "request": latency_summary(latencies),
        "embedding": latency_summary(embed_ms),
        "request_minus_embedding": latency_summary(rest),
    }


def call_handler(handler: Handler, event: dict[str, Any], log: TextIO) -> float:
    """One request; anything but 201 is a functional error."""
    started = time.perf_counter_ns()
    with contextlib.redirect_stdout(log):
        response = handler(event, LambdaContext(function_name="MemoryWriteFunction"))
    elapsed_ms = (time.perf_counter_ns() - started) / 1e6
    if response.get("statusCode") != 201:
        raise BenchError(f"write answered {response.get('statusCode')}: {str(response.get('body'))[:300]}")
    return elapsed_ms


# --- the run --------------------------------------------------------------------------------------------------------


def point_functions_at(database_url: str) -> None:
    """What template.yaml gives the functions, pointed at the embedded stack, read afresh as a new container would."""
    os.environ.update(DATABASE_URL=database_url, ENVIRONMENT="dev", SUPABASE_JWT_SECRET=JWT_SECRET, EMBEDDINGS_PROVIDER="local")
    get_settings.cache_clear()
    db.close_connection()


def scalar(admin: psycopg.Connection[Any], sql: str, params: tuple[Any, ...] = ()) -> Any:
    row = admin.execute(sql.encode(), params).fetchone()
    return row[0] if row else None


def server_facts(admin: psycopg.Connection[Any]) -> dict[str, Any]:
    """The settings the figures depend on: shared_buffers (128 MB here) holds neither the table nor the index."""
    names = ("server_version", "shared_buffers", "work_mem", "max_parallel_maintenance_workers", "io_method", "jit")
    facts = {name: scalar(admin, f"SHOW {name}") for name in names}
    facts["pgvector"] = scalar(admin, "SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    storage = scalar(
        admin, "SELECT attstorage FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'embedding'", (TABLE,)
    )
    facts["embedding_storage"] = {"p": "plain (in the row)", "e": "external (TOAST, uncompressed)"}.get(storage, storage)
    return facts


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def shape_a(admin: psycopg.Connection[Any], rng: np.random.Generator, corpus: Corpus) -> dict[str, Any]:
    progress(f"shape (a): generating and loading {SMALL_USERS * SMALL_USER_ROWS:,} rows")
    batch = small_users_batch(rng, corpus)
    add_auth_users(admin, corpus.users)
    drop_hnsw(admin)
    load = bulk_load(admin, batch)
    vacuum_analyze(admin)
    progress(f"shape (a): COPY {load['rows_per_s']:,} rows/s; building the HNSW index")
    return {"load": load, "index": build_hnsw(admin), "table": table_sizes(admin)}


def shape_b(admin: psycopg.Connection[Any], rng: np.random.Generator, corpus: Corpus) -> dict[str, Any]:
    progress(f"shape (b): generating and loading the power user's {POWER_USER_ROWS:,} rows")
    batch = power_user_batch(rng, corpus)
    add_auth_users(admin, corpus.users[-1:])
    drop_hnsw(admin)
    load = bulk_load(admin, batch)
    vacuum_analyze(admin)
    progress(f"shape (b): COPY {load['rows_per_s']:,} rows/s; rebuilding the HNSW index")
    return {"load": load, "index": build_hnsw(admin), "table": table_sizes(admin)}


def run_paths(
    admin: psycopg.Connection[Any], corpus: Corpus, label: str, paths: list[tuple[AccessPath, list[Query]]], warmup: int = WARMUP
) -> list[dict[str, Any]]:
    results = []
    for path, queries in paths:
        progress(f"{label}: {path.name} ({len(queries)} queries)")
        results.append({"class": label, **measure(admin, path, corpus, queries, warmup)})
    return results


def measure_shape_a(admin: psycopg.Connection[Any], corpus: Corpus, small: list[Query], settings: Settings) -> dict[str, Any]:
    configured = run_paths(admin, corpus, "(a) small user", [(production(settings), small)])
    seconds = inline_copy(admin)
    alternatives = run_paths(
        admin,
        corpus,
        "(a) small user",
        [
            (forced_hnsw("off", 40), small),
            (forced_hnsw("relaxed_order", settings.memory_ef_search), small),
            (sql_path("EXACT statement alone (no count), as stored", EXACT), small),
            (exact_path_inline(settings), small),
        ],
    )
    admin.execute(f"DROP TABLE {INLINE_TABLE}".encode())
    return {"configured": configured, "alternatives": alternatives, "inline_copy_seconds": seconds}


def measure_shape_b(
    admin: psycopg.Connection[Any],
    corpus: Corpus,
    small: list[Query],
    power: list[Query],
    power_one_type: list[Query],
    settings: Settings,
) -> dict[str, Any]:
    """The power user's queries for one type stand for a mid-sized user: their 5,000 rows are 2.5 % of the table."""
    one_type = f"(b) power, {ONE_TYPE}"
    configured = [
        *run_paths(admin, corpus, "(b) small user", [(production(settings), small)]),
        *run_paths(admin, corpus, "(b) power user", [(production(settings), power)]),
        *run_paths(admin, corpus, one_type, [(production(settings), power_one_type)]),
    ]
    sweep = []
    for label, queries in (("(b) power user", power), (one_type, power_one_type)):
        for ef in sorted({*EF_SWEEP, settings.memory_ef_search}):
            with_ef = production(settings.model_copy(update={"memory_ef_search": ef}), f"search() with ef_search={ef}")
            sweep += run_paths(admin, corpus, label, [(with_ef, queries)])
    exact_settings = settings.model_copy(update={"memory_exact_scan_max_rows": 10 * POWER_USER_ROWS})
    alternatives = [
        *run_paths(
            admin,
            corpus,
            "(b) small user",
            [(forced_hnsw("off", 40), small), (forced_hnsw("relaxed_order", settings.memory_ef_search), small)],
        ),
        *run_paths(
            admin,
            corpus,
            "(b) power user",
            [(production(exact_settings, "exact scan (threshold above the user)"), power[:POWER_EXACT_QUERIES])],
            warmup=1,
        ),
        *run_paths(
            admin, corpus, one_type, [(production(exact_settings, "exact scan (threshold above the user)"), power_one_type)]
        ),
    ]
    progress("(b) power user: the capped count by cap")
    return {
        "configured": configured,
        "ef_search_sweep": sweep,
        "alternatives": alternatives,
        "capped_count": capped_counts(corpus, power[0].user),
    }


def check(target: str, value: float, limit: float, passed: bool) -> dict[str, Any]:
    return {"target": target, "value": value, "limit": limit, "pass": passed}


def evaluate(configured: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets for the search alone (embedding excluded), on the path as configured; a class the issue
    names no latency target for (the power user's one type) is held to k rows only."""
    checks = []
    for result in configured:
        name, p50, recall, short = result["class"], result["p50_ms"], result["recall_at_10"], result["queries_short_of_k"]
        if "small user" in name:
            checks += [
                check(f"{name} p50 ms <=", p50, TARGETS["small_p50_ms"], p50 <= TARGETS["small_p50_ms"]),
                check(
                    f"{name} p99 ms <=", result["p99_ms"], TARGETS["small_p99_ms"], result["p99_ms"] <= TARGETS["small_p99_ms"]
                ),
                check(f"{name} recall@10 =", recall, TARGETS["small_recall"], recall >= TARGETS["small_recall"]),
            ]
        elif "power user" in name:
            checks += [
                check(f"{name} p50 ms <=", p50, TARGETS["power_p50_ms"], p50 <= TARGETS["power_p50_ms"]),
                check(f"{name} recall@10 >=", recall, TARGETS["power_recall"], recall >= TARGETS["power_recall"]),
            ]
        checks.append(check(f"{name} queries answered fewer than k=10 rows =", short, 0, short == 0))
    return checks


def require_k_rows(configured: list[dict[str, Any]]) -> None:
    """A user with k or more matching rows always gets k rows back: on the configured path, that is a function bug."""
    for result in configured:
        if result["queries_short_of_k"]:
            raise BenchError(f"{result['class']}: {result['queries_short_of_k']} queries answered fewer than {K} rows")


def similarity_profile(rng: np.random.Generator, corpus: Corpus) -> dict[str, float]:
    """Median cosine of a row to its nearest neighbour in a 20,000-row sample, to the 10th, and to any row: what the
    generator makes, to compare with a real model's (paraphrases ~0.8-0.9, unrelated texts ~0-0.2)."""
    rows = corpus.vectors[rng.choice(len(corpus.ids), 20_000, replace=False)]
    similarities = np.sort(rows[:200] @ rows.T, axis=1)[:, ::-1]  # column 0 is the row itself
    return {name: round(float(np.median(similarities[:, column])), 3) for name, column in
            (("nearest", 1), ("10th_nearest", 10), ("100th_nearest", 100), ("median_pair", 10_000))}  # fmt: skip


def run(work_dir: Path, seed: int, flat_topics: bool) -> dict[str, Any]:
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    database_url = start_postgres(work_dir / "pg")
    apply_migrations(database_url)
    point_functions_at(database_url)
    settings = get_settings()
    if settings.embedding_dimension != DIMENSION:
        raise BenchError(f"the corpus is {DIMENSION}-dim but EMBEDDING_DIMENSION is {settings.embedding_dimension}")
    corpus = Corpus(make_topics(rng, flat_topics))
    with psycopg.connect(database_url, autocommit=True) as admin:
        a = shape_a(admin, rng, corpus)
        small = make_queries(rng, corpus, sorted(rng.choice(SMALL_USERS, QUERY_USERS, replace=False).tolist()), QUERIES)
        searched_a = measure_shape_a(admin, corpus, small, settings)
        b = shape_b(admin, rng, corpus)
        power = make_queries(rng, corpus, [len(corpus.users) - 1], QUERIES)
        power_one_type = make_queries(rng, corpus, [len(corpus.users) - 1], QUERIES, ONE_TYPE)
        searched_b = measure_shape_b(admin, corpus, small, power, power_one_type, settings)
        progress("embedding: the local model on short queries")
        embedder = embedder_for(settings)
        embedding = time_embedding(embedder, texts(rng, QUERY_TEXTS, EMBED_CALLS))
        progress(f"writes: {API_WRITE_USERS * API_WRITES_PER_USER} single writes through memory_write's handler")
        with (work_dir / "function-stdout.log").open("w") as log:
            api = api_writes(admin, rng, embedder, log)
        facts = server_facts(admin)
    profile = similarity_profile(rng, corpus)
    db.close_connection()
    configured = searched_a["configured"] + searched_b["configured"]
    require_k_rows(configured)
    return {
        "machine": machine_info(),
        "postgres": facts,
        "settings": {
            "memory_exact_scan_max_rows": settings.memory_exact_scan_max_rows,
            "memory_ef_search": settings.memory_ef_search,
        },
        "method": {
            "vectors": f"{VECTORS} {FLAT_TOPICS}" if flat_topics else VECTORS,
            "queries": f"{QUERIES} per class after {WARMUP} untimed; small-user queries rotate over {QUERY_USERS} users,"
            " the same queries in both shapes",
            "search_latency": "memory_read.search.search() alone, inside an open user_transaction (role authenticated,"
            " RLS on), embedding excluded: the capped count, then the path's statement(s)",
            "recall_at_10": f"returned rows whose exact cosine distance (float64, numpy, over the asking user's rows) is"
            f" within {TIE_EPSILON} of the 10th-nearest, / 10; a row of another user would abort the run",
            "hnsw_scans_per_query": "delta of pg_stat_user_indexes.idx_scan on the HNSW index / queries: 1 = every"
            " query went through the index, 0 = none did",
            "bulk_load": "binary COPY as the admin, tuples encoded beforehand, no HNSW index (built after, timed)",
            "api_writes": f"{API_WRITE_USERS} users x {API_WRITES_PER_USER} POST /agent/write-memory through the"
            " handler in-process (JWT, quota, local embedding, upsert, HNSW insert), sequential",
        },
        "dataset": {
            "dimension": DIMENSION,
            "shape_a": f"{SMALL_USERS} users x {SMALL_USER_ROWS:,} rows = {SMALL_USERS * SMALL_USER_ROWS:,}",
            "shape_b": f"shape (a) + 1 power user x {POWER_USER_ROWS:,} rows = {len(corpus.ids):,}",
            "topics": "flat (independent random directions)" if flat_topics else f"{TOPICS} in {DOMAINS} domains",
            "cosine_similarity_profile": profile,
            "seed": seed,
        },
        "shape_a": a,
        "shape_b": b,
        "search": {"configured": configured, "targets": evaluate(configured)},
        "ef_search_sweep": searched_b["ef_search_sweep"],
        "alternatives": searched_a["alternatives"] + searched_b["alternatives"],
        "inline_copy_seconds": searched_a["inline_copy_seconds"],
        "capped_count_power_user": searched_b["capped_count"],
        "embedding": embedding,
        "api_writes": api,
        "run_seconds": round(time.perf_counter() - started),
    }


# --- reporting ------------------------------------------------------------------------------------------------------


def print_searches(title: str, results: list[dict[str, Any]]) -> None:
    header = f"{'class':<24} {'path':<58} {'rows':>7} {'p50 ms':>8} {'p99 ms':>8} {'recall':>7} {'short':>6} {'hnsw':>5}"
    print(f"\n{title}\n{header}\n{'-' * len(header)}")
    for r in results:
        print(
            f"{r['class']:<24} {r['path']:<58} {r['user_rows']:>7,} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}"
            f" {r['recall_at_10']:>7.3f} {r['queries_short_of_k']:>6} {r['hnsw_scans_per_query']:>5.2f}"
        )


def print_report(results: dict[str, Any]) -> None:
    for shape in ("shape_a", "shape_b"):
        load, index, table = results[shape]["load"], results[shape]["index"], results[shape]["table"]
        print(
            f"\n{shape}: {table['rows']:,} rows (heap {table['heap_mb']} MB, TOAST {table['toast_mb']} MB);"
            f" COPY {load['rows']:,} rows in {load['seconds']} s = {load['rows_per_s']:,} rows/s;"
            f" HNSW build {index['seconds']} s, {index['size_mb']} MB"
        )
        for notice in index["notices"]:
            print(f"  build notice: {notice}")
    settings = results["settings"]
    print_searches(
        f"search() as configured (exact up to {settings['memory_exact_scan_max_rows']:,} rows,"
        f" ef_search {settings['memory_ef_search']}); rows = the user's, short = queries under 10 rows,"
        " hnsw = index scans per query",
        results["search"]["configured"],
    )
    print_searches("power user, ef_search sweep", results["ef_search_sweep"])
    print_searches("alternatives, for context", results["alternatives"])
    counts = ", ".join(f"cap {c['cap']:,}: {c['p50_ms']:.2f}" for c in results["capped_count_power_user"])
    print(f"\ncapped count for the power user, p50 ms: {counts}")
    embedding, api = results["embedding"], results["api_writes"]
    print(f"embedding ({embedding['provider']}): p50 {embedding['p50_ms']:.1f} ms, p99 {embedding['p99_ms']:.1f} ms")
    print(
        f"API writes: {api['writes']} in {api['seconds']} s = {api['rows_per_s']} rows/s; request p50"
        f" {api['request']['p50_ms']:.1f} ms (embedding {api['embedding']['p50_ms']:.1f}, rest"
        f" {api['request_minus_embedding']['p50_ms']:.1f}), p99 {api['request']['p99_ms']:.1f} ms"
    )
    print("\ntargets (vector search alone):")
    for item in results["search"]["targets"]:
        print(f"  [{'PASS' if item['pass'] else 'FAIL'}] {item['target']} {item['limit']:g}: {item['value']:g}")
    print(f"\nrun took {results['run_seconds']} s")


def write_results(results: dict[str, Any], path: Path) -> None:
    """Through a temporary file, so an interrupted run never leaves half a JSON behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.tmp")
    partial.write_text(json.dumps(results, indent=2, default=str) + "\n")
    partial.replace(path)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """As pyproject's pytest settings do: noise from platformdirs and from Powertools with metrics disabled."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "XDG_RUNTIME_DIR is not set")
        warnings.filterwarnings("ignore", "No application metrics to publish")
        yield


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=SEED, help=f"data and query seed (default {SEED})")
    parser.add_argument(
        "--flat-topics", action="store_true", help=FLAT_TOPICS.split(": ", 1)[1] + " (writes memory_flat_topics.json)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Exit 1 on a functional error only; targets missed are in the report."""
    args = parse_args(argv)
    path = RESULTS_DIR / ("memory_flat_topics.json" if args.flat_topics else "memory.json")
    with quiet():
        work_dir = Path(tempfile.mkdtemp(prefix="agentmode-bench-memory-"))
        # Registered before Postgres registers its own stop: atexit runs last-in first-out, so the cluster stops first.
        atexit.register(shutil.rmtree, work_dir, ignore_errors=True)
        try:
            results = run(work_dir, args.seed, args.flat_topics)
        except BenchError as exc:
            print(f"bench failed: {exc}", file=sys.stderr)
            return 1
    write_results(results, path)
    print_report(results)
    print(f"\nwrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
