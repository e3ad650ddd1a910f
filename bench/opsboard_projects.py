"""GET /opsboard/projects for a user with 50 projects, trace counts included, warm and in-process, against the floor.

One process, one embedded Postgres, chDB under a temporary folder, both handlers in-process with their real
dependencies. The user owns a pro organization (no project limit) with 50 projects; chDB holds `--traces` traces of
`--spans` spans for each, written in two batches per trace as exporters send them, merges settled. Rounds interleave:

    floor          agent_status GET /agent/status of a fresh session: an authenticated route doing almost nothing
    projects_list  GET /opsboard/projects: my_projects() in Postgres, then one ClickHouse query for the 50 projects' counts
    counts_query   the counts query alone (opsboard_projects.trace_counts), for where the time goes

Target (issue 13): projects_list p50 <= 25 ms on chDB.
`python -m bench.opsboard_projects [--rounds 10 --requests 100 --traces 200 --spans 20] [--publish]`;
results: opsboard_projects.json (see bench/results_dir.py).
"""

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg

from bench.in_process import api_event, interleaved_rounds, percentiles_over_floor, succeeding_call
from bench.machine import machine_info
from bench.results_dir import add_publish_flag, results_dir, shown, write_results
from local.lambda_runtime import LambdaContext, load_handler, use_layer
from local.stack import ROOT, apply_migrations, start_postgres
from local.token import mint_token

JWT_SECRET = "bench-secret-for-hs256-tokens-at-least-32-bytes"  # noqa: S105 - a throwaway local secret
RESULTS_FILE = "opsboard_projects.json"
PROJECTS = 50
TARGET_P50_MS = 25.0
DAYS = 30


def _postgres(work: Path) -> tuple[str, UUID, list[UUID], UUID]:
    """The user (their personal organization made pro, holding 50 projects) and a fresh agent session of theirs."""
    url = start_postgres(work / "pg")
    apply_migrations(url)
    with psycopg.connect(url, autocommit=True) as conn:
        # Unlimited for the bench: the rounds send more requests than the shipped 1,000 API calls an hour.
        conn.execute("UPDATE agentmode.rate_limit_policies SET limit_count = 1000000000 WHERE action = 'api_call'")
        user = uuid4()
        conn.execute(
            "INSERT INTO auth.users (id, email, email_confirmed_at) VALUES (%s, 'bench@agentmode.local', now())", (user,)
        )
        org = _one(conn, "SELECT org_id FROM agentmode.user_orgs WHERE user_id = %s AND role = 'owner'", (user,))
        conn.execute("UPDATE agentmode.orgs SET prem_status = 'pro' WHERE id = %s", (org,))
        for number in range(PROJECTS - 1):
            conn.execute("INSERT INTO agentmode.projects (org_id, name) VALUES (%s, %s)", (org, f"project {number}"))
        projects = [row[0] for row in conn.execute("SELECT id FROM agentmode.projects WHERE org_id = %s", (org,))]
        session = _one(conn, "INSERT INTO agentmode.agent_sessions (user_id) VALUES (%s) RETURNING id", (user,))
    return url, user, projects, session


def _one(conn: psycopg.Connection[Any], sql: str, params: tuple[Any, ...]) -> Any:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


def _clickhouse(projects: list[UUID], traces: int, spans: int) -> dict[str, Any]:
    """chDB with the schema, each project's traces spread over the last 30 days; merges settled, as a server's are."""
    from agentmode.clickhouse import get_clickhouse
    from local.clickhouse_schema import apply_schema
    from local.trace_generator import TraceBatch, generate

    ch = get_clickhouse()
    apply_schema(ch)
    end = datetime.now(UTC)
    started = time.perf_counter()
    for project in projects:
        for span_from, span_to in ((0, spans // 2), (spans // 2, spans)):
            generate(
                ch, TraceBatch(str(project), traces, spans, end - timedelta(days=DAYS), end, span_from=span_from, span_to=span_to)
            )
    loaded_s = time.perf_counter() - started
    while ch.query("SELECT count() AS n FROM system.merges", {})[0]["n"]:
        time.sleep(0.5)
    summary_rows = ch.query("SELECT count() AS n FROM otel_trace_summaries", {})[0]["n"]
    return {"spans": len(projects) * traces * spans, "load_s": round(loaded_s, 1), "summary_rows": int(summary_rows)}


def measure(rounds: int, requests: int, traces: int, spans: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-opsboard-projects-") as tmp:
        url, user, projects, session = _postgres(Path(tmp))
        os.environ.update(
            DATABASE_URL=url, SUPABASE_JWT_SECRET=JWT_SECRET, ENVIRONMENT="test", POWERTOOLS_METRICS_DISABLED="true",
            POWERTOOLS_LOG_LEVEL="WARNING", SUPABASE_URL="", SUPABASE_JWT_ISSUER="", CLICKHOUSE_HOST="",
            CLICKHOUSE_LOCAL_PATH=str(Path(tmp) / "clickhouse"),
        )  # fmt: skip
        use_layer()
        data = _clickhouse(projects, traces, spans)
        try:
            samples = _rounds(rounds, requests, user, projects, session)
        finally:
            from agentmode.clickhouse import close_embedded

            close_embedded()
    return _summary(samples, data, traces, spans)


def _rounds(rounds: int, requests: int, user: UUID, projects: list[UUID], session: UUID) -> dict[str, list[float]]:
    token = mint_token(user, JWT_SECRET)
    status = load_handler(ROOT / "functions" / "agent_status", "app.handler")
    listing = load_handler(ROOT / "functions" / "opsboard_projects", "app.handler")
    from opsboard_projects.trace_counts import trace_counts

    status_event = api_event("GET", "/agent/status", token, f"session_id={session}")
    variants: dict[str, Callable[[], object]] = {
        "floor": succeeding_call(status, status_event, LambdaContext(function_name="AgentStatusFunction")),
        "projects_list": succeeding_call(
            listing, api_event("GET", "/opsboard/projects", token), LambdaContext(function_name="OpsboardProjectsFunction")
        ),
        "counts_query": lambda: trace_counts(projects),
    }
    return interleaved_rounds(variants, rounds, requests)


def _summary(samples: dict[str, list[float]], data: dict[str, Any], traces: int, spans: int) -> dict[str, Any]:
    figures = percentiles_over_floor(samples)
    p50 = figures["projects_list"]["p50_ms"]
    return {
        "method": __doc__,
        "machine": machine_info(),
        "data": {"projects": PROJECTS, "traces_per_project": traces, "spans_per_trace": spans, **data},
        "requests_per_variant": len(samples["floor"]),
        "variants": figures,
        "target": {"projects_list_p50_max_ms": TARGET_P50_MS, "projects_list_p50_ms": p50, "met": p50 <= TARGET_P50_MS},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="GET /opsboard/projects warm p50/p99 (50 projects, counts) vs the floor")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--traces", type=int, default=200, help="traces per project")
    parser.add_argument("--spans", type=int, default=20, help="spans per trace")
    add_publish_flag(parser)
    args = parser.parse_args(argv)
    results = measure(args.rounds, args.requests, args.traces, args.spans)
    path = results_dir(args.publish) / RESULTS_FILE
    write_results(results, path)
    data = results["data"]
    shape = f"{data['projects']} projects x {data['traces_per_project']} traces x {data['spans_per_trace']} spans"
    print(f"{shape} ({data['spans']:,} spans)")
    for name, figure in results["variants"].items():
        print(f"{name:14} p50 {figure['p50_ms']:.3f} ms  p99 {figure['p99_ms']:.3f} ms  x{figure['p50_over_floor']:.2f} of floor")
    print(f"target: projects_list p50 <= {TARGET_P50_MS:g} ms: {'met' if results['target']['met'] else 'NOT met'}")
    print(f"wrote {shown(path)}")


if __name__ == "__main__":
    sys.exit(main())
