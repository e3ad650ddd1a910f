"""`make bench`: cold start and warm latency of each built function, next to a bare FastAPI + Mangum baseline.

Every figure comes from a fresh interpreter that sees only what `sam build` produced (bench/_child.py), talking to an
embedded Postgres (with the local stand-in of Supabase's realtime schema, which agent_event's events are broadcast
into), and for agent_start to SQS served by moto on loopback: the functions' real client paths.
The build ships bytecode (`make build` compiles it; Lambda's code folders are read-only, so Python could never cache
it there); the children write none (PYTHONDONTWRITEBYTECODE), as on Lambda. The baseline gets the same treatment.

The parts: bench.functions_config (knobs), bench.functions_targets (the build and each handler's requests),
bench.functions_children (the fresh interpreters), bench.functions_report (figures and budgets).
"""

import argparse
import atexit
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import psycopg

from bench.errors import BenchError
from bench.functions_children import base_env, measure_cold, measure_warm
from bench.functions_config import BASELINE, COLD_RUNS, FUNCTIONS, RESULTS_FILE, START, WARM_REQUESTS
from bench.functions_report import cold_summary, evaluate_targets, print_table, warm_summary
from bench.functions_targets import build_targets, snapshot_build
from bench.loopback import queued_messages, sqs_queue
from bench.machine import machine_info
from bench.results_dir import add_publish_flag, results_dir, shown, write_results
from local.runner_queue import AWS_TEST_CREDENTIALS
from local.stack import apply_migrations, start_postgres


def measure(database_url: str, build: Path, work_dir: Path) -> dict[str, Any]:
    """Every measurement against one database and one queue; checks that each agent_start really reached SQS."""
    env = base_env(database_url, work_dir)
    with (
        sqs_queue() as (endpoint, queue_url),
        psycopg.connect(database_url, autocommit=True) as admin,
    ):
        sqs_env = {**AWS_TEST_CREDENTIALS, "AGENT_QUEUE_URL": queue_url, "AWS_ENDPOINT_URL_SQS": endpoint}
        targets = build_targets(admin, build, sqs_env)
        cold = measure_cold(targets, env, work_dir)
        warm = {target.name: measure_warm(target, env, work_dir) for target in targets}
        sent, expected = queued_messages(endpoint, queue_url), COLD_RUNS + 1 + WARM_REQUESTS[START]
    if sent != expected:
        raise BenchError(f"agent_start answered 201 {expected} times but SQS holds {sent} messages")
    baseline = {"cold": cold_summary(cold[BASELINE]), "warm": warm_summary(warm[BASELINE])}
    functions = {name: {"cold": cold_summary(cold[name]), "warm": warm_summary(warm[name])} for name in FUNCTIONS}
    for figures in functions.values():
        figures["cold_ratio_to_baseline"] = round(figures["cold"]["total_ms"] / baseline["cold"]["total_ms"], 3)
    return {
        "machine": machine_info(),
        "method": {
            "cold_runs": COLD_RUNS,
            "cold": "fresh `python -S -P` per run, PYTHONPATH = built function + layer only (with the build's bytecode),"
            " none written;"
            " import app, then the first handler call (includes the Postgres connect and, for agent_start, the SQS client)",
            "warm": "one process per function, one untimed warm-up call, then each handler call timed in-process",
            "sqs": "moto server on loopback, reached by agent_start's own botocore client",
            "realtime": "realtime.send inside each event's transaction, into the local stand-in of Supabase's realtime schema",
        },
        "sqs_messages_received": sent,
        "baseline": baseline,
        "functions": functions,
        "targets": evaluate_targets(functions),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.functions", description=(__doc__ or "").splitlines()[0])
    add_publish_flag(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Exit 1 on a functional error only: a missed target is a finding, not a failure of the benchmark."""
    path = results_dir(parse_args(argv).publish) / RESULTS_FILE
    try:
        work_dir = Path(tempfile.mkdtemp(prefix="agentmode-bench-"))
        # Registered before Postgres registers its own stop: atexit runs last-in first-out, so the cluster stops first.
        atexit.register(shutil.rmtree, work_dir, ignore_errors=True)
        build = snapshot_build(work_dir)
        database_url = start_postgres(work_dir / "pg")
        apply_migrations(database_url)
        results = measure(database_url, build, work_dir)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    write_results(results, path)
    print_table(results["baseline"], results["functions"], results["targets"])
    print(f"\nwrote {shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
