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
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from bench.machine import machine_info
from local.devconfig import DEV_JWT_ISSUER
from local.lambda_runtime import LAYER_DIR
from local.stack import ROOT, apply_migrations, start_postgres

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
from agentmode.embeddings import embedder_for  # noqa: E402
from agentmode.settings import Settings, get_settings  # noqa: E402
from bench.errors import BenchError  # noqa: E402
from bench.memory_config import (  # noqa: E402
    API_WRITE_USERS,
    API_WRITES_PER_USER,
    EF_SWEEP,
    EMBED_CALLS,
    INLINE_TABLE,
    JWT_SECRET,
    POWER_EXACT_QUERIES,
    QUERIES,
    QUERY_USERS,
    TABLE,
    TARGETS,
    TIE_EPSILON,
    WARMUP,
    K,
)
from bench.memory_data import (  # noqa: E402
    DIMENSION,
    DOMAINS,
    FLAT_TOPICS,
    ONE_TYPE,
    POWER_USER_ROWS,
    SEED,
    SMALL_USER_ROWS,
    SMALL_USERS,
    TOPICS,
    VECTORS,
    Corpus,
    make_topics,
    power_user_batch,
    small_users_batch,
)
from bench.memory_load import add_auth_users, build_hnsw, bulk_load, drop_hnsw, table_sizes, vacuum_analyze  # noqa: E402
from bench.memory_report import print_report  # noqa: E402
from bench.memory_search import (  # noqa: E402
    AccessPath,
    Query,
    capped_counts,
    exact_path_inline,
    forced_hnsw,
    inline_copy,
    make_queries,
    measure,
    production,
    sql_path,
)
from bench.memory_writes import QUERY_TEXTS, api_writes, texts, time_embedding  # noqa: E402
from bench.results_dir import add_publish_flag, results_dir, shown, write_results  # noqa: E402
from memory_read.search import EXACT  # noqa: E402

# --- the run --------------------------------------------------------------------------------------------------------


def point_functions_at(database_url: str) -> None:
    """What template.yaml gives the functions, pointed at the embedded stack, read afresh as a new container would."""
    os.environ.update(
        DATABASE_URL=database_url, ENVIRONMENT="dev", SUPABASE_JWT_SECRET=JWT_SECRET, SUPABASE_JWT_ISSUER=DEV_JWT_ISSUER,
        EMBEDDINGS_PROVIDER="local",
    )  # fmt: skip
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
    add_publish_flag(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Exit 1 on a functional error only; targets missed are in the report."""
    args = parse_args(argv)
    path = results_dir(args.publish) / ("memory_flat_topics.json" if args.flat_topics else "memory.json")
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
    print(f"\nwrote {shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
