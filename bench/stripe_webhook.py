"""`python -m bench.stripe_webhook`: the Stripe webhook under a realistic delivery storm, checked against a calm replay.

2,000 signed deliveries (1,400 unique events and 600 re-sends, shuffled) go through the real handler from 8 threads
at once, against the embedded Postgres and a loopback Stripe API (tests.stripe_stub): Stripe delivers at least once
and in no particular order, so checkouts often arrive after their subscription's updates and updates overtake each
other. Then each unique event is delivered once, in `created` order, from one thread, into a second database. Both
databases must end with every organization in the same billing state: the concurrent phase's throughput means
nothing unless its result is the one an orderly world would have produced.

Each worker thread is one warm Lambda container: its own asyncio loop (Mangum runs each request on it) and its own
database connection (agentmode.db keeps one per thread), opened before the clock starts.

The parts: bench.stripe_webhook_config (knobs), bench.stripe_webhook_workload (the events), bench.stripe_webhook_delivery
(the phases), bench.stripe_webhook_verify (the comparison), bench.stripe_webhook_report (figures and report).
"""

import argparse
import atexit
import contextlib
import shutil
import sys
import tempfile
import uuid
import warnings
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bench.errors import BenchError
from bench.machine import machine_info
from bench.results_dir import add_publish_flag, results_dir, shown, write_results
from bench.stripe_webhook_config import FUNCTION_DIR, REPLAY_DB, RESULTS_FILE, SEED, WORKERS
from bench.stripe_webhook_delivery import (
    Phase,
    fresh_container,
    require_all_ok,
    run_concurrent,
    run_sequential,
    set_function_env,
)
from bench.stripe_webhook_report import function_output, phase_summary, print_report, workload_summary
from bench.stripe_webhook_verify import verify
from bench.stripe_webhook_workload import Workload, build_workload
from local.lambda_runtime import load_handler
from local.stack import apply_migrations, start_postgres
from tests import stripe_stub


def database_uri(uri: str, name: str) -> str:
    """The same cluster and credentials, another database."""
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(path=f"/{name}"))


def create_database(uri: str, name: str) -> str:
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_uri(uri, name)


def insert_orgs(uri: str, orgs: list[uuid.UUID]) -> None:
    with psycopg.connect(uri) as conn:
        conn.cursor().executemany(
            "INSERT INTO agentmode.orgs (id, name) VALUES (%s, %s)", [(org_id, f"bench {org_id.hex[:8]}") for org_id in orgs]
        )


def run_phases(database_url: str, replay_url: str, workload: Workload, log: TextIO) -> tuple[Phase, Phase]:
    """The function's own stdout goes to `log`: its Logger binds to sys.stdout at import, metrics print at call time."""
    with contextlib.redirect_stdout(log):
        handler = load_handler(FUNCTION_DIR)
    fresh_container(database_url)
    print(f"concurrent: {len(workload.deliveries)} deliveries, {WORKERS} workers", flush=True)
    with contextlib.redirect_stdout(log):
        concurrent = run_concurrent(handler, workload.deliveries)
    require_all_ok(concurrent)
    fresh_container(replay_url)
    print(f"sequential replay: {len(workload.events)} events", flush=True)
    with contextlib.redirect_stdout(log):
        sequential = run_sequential(handler, workload.events)
    require_all_ok(sequential)
    return concurrent, sequential


def measure(database_url: str, work_dir: Path, seed: int) -> dict[str, Any]:
    """Both phases and the verification, with the Stripe API stub up throughout."""
    replay_url = create_database(database_url, REPLAY_DB)
    apply_migrations(replay_url)
    stub = stripe_stub.StripeApiStub()
    log_path = work_dir / "function-stdout.log"
    try:
        workload = build_workload(stub, seed)
        for uri in (database_url, replay_url):
            insert_orgs(uri, workload.orgs)
        set_function_env(database_url, stub.url)
        with log_path.open("w") as log:
            concurrent, sequential = run_phases(database_url, replay_url, workload, log)
    except BenchError as exc:
        lines = log_path.read_text().splitlines()[-20:] if log_path.exists() else []
        raise BenchError("\n".join([str(exc), "last lines the function printed:", *lines])) from None
    finally:
        stub.close()
    return {
        "machine": machine_info(),
        "method": {
            "concurrent": f"{WORKERS} threads, each a warm container (own asyncio loop and Postgres connection), pulling"
            " shuffled deliveries from one queue; each signed at delivery and passed to the handler in-process as an"
            " API Gateway v2 event; latency = the handler call alone (on few cores it includes waiting for the GIL)",
            "events_per_s": "deliveries (duplicates included) / wall time of the phase",
            "replay": "each unique event once, in `created` order, one thread, into a second database of the same cluster",
            "stripe_api": "tests.stripe_stub on loopback, reached by the function's own stripe-python client",
        },
        "workload": workload_summary(workload),
        "phases": {"concurrent": phase_summary(concurrent), "sequential": phase_summary(sequential)},
        "function_output": function_output(log_path),
        "verification": verify(database_url, replay_url, workload, concurrent),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.stripe_webhook", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--seed", type=int, default=SEED, help=f"workload seed (default {SEED}); another seed, another story")
    add_publish_flag(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Exit 1 on a functional error: a delivery not answered 200, or a final state that differs from the replay."""
    args = parse_args(argv)
    path = results_dir(args.publish) / RESULTS_FILE
    # As pyproject's pytest settings do: noise from platformdirs, and from Powertools with metrics disabled.
    warnings.filterwarnings("ignore", "XDG_RUNTIME_DIR is not set")
    warnings.filterwarnings("ignore", "No application metrics to publish")
    try:
        work_dir = Path(tempfile.mkdtemp(prefix="agentmode-bench-stripe-"))
        # Registered before Postgres registers its own stop: atexit runs last-in first-out, so the cluster stops first.
        atexit.register(shutil.rmtree, work_dir, ignore_errors=True)
        database_url = start_postgres(work_dir / "pg")
        apply_migrations(database_url)
        results = measure(database_url, work_dir, args.seed)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    write_results(results, path)
    print_report(results)
    print(f"\nwrote {shown(path)}")
    return 0 if results["verification"]["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
