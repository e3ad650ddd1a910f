"""`python -m bench.load [--clients 50] [--requests 3000]`: a bounded load test of the local runner over loopback.

    python -m bench.load                      # 50 clients, 3,000 requests, 50 users (~1 min with start-up)
    python -m bench.load --containers 4       # 4 warm containers per agent_* function instead of the runner's one

Starts a fresh stack in a temporary folder (its own embedded Postgres and chDB, not .local/), the local runner
(local/server.py, every function's real handler) on a free loopback port in a thread, and moto's SQS on loopback, so
agent_start really queues; agent_event broadcasts through realtime.send into the local stand-in of Supabase's realtime
schema. Creates the users (brand memory, credits, a pro organization, a project with generated
traces), then `--clients` threads, each with its own keep-alive connection, send a fixed number of mixed requests:
agent/start (with Idempotency-Key: new keys, retries, a key reused with another body), agent/event on any user's open
sessions (§6 kinds, then session_completed), agent/status and agent/events (also probing another user's session),
write-memory and read-memory (real embeddings, so a modest share), and the traces list, detail and metrics.

Reports throughput, p50/p99 overall and per route and the error count (any 5xx, unexpected status, transport error
or wrong answer: must be 0); then checks the database against every acknowledged answer (bench.load_checks), the
broadcasts (realtime.messages) against the event log, and what SQS holds against the sessions created. Prints a table, writes
load.json into the results folder (bench.results_dir), and exits 1 when there was an error or a check failed.

Clients, runner and functions share one process (the runner in a thread, as `make run` serves it), so on few cores
the latencies include waiting for the GIL; the runner gives each function one warm container, so requests to one
function queue behind each other, as they would with a reserved concurrency of 1.
"""

import argparse
import atexit
import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO, cast

import psycopg

from bench.errors import BenchError
from bench.load_checks import Check, check, summarize, verify
from bench.load_population import DEFAULT_MIX, LoadConfig, Population, create_population
from bench.load_workload import RunResult, run_load
from bench.loopback import queued_session_ids, sqs_queue
from bench.machine import machine_info
from bench.results_dir import add_publish_flag, results_dir, shown, write_results
from local.devconfig import DEV_JWT_ISSUER
from local.runner_queue import AWS_TEST_CREDENTIALS
from local.stack import apply_migrations, start_postgres

RESULTS_FILE = "load.json"
# The functions whose containers --containers multiplies: Postgres-bound, no shared model. memory_* keep one (the local
# embedding model's tokenizer is not meant for concurrent calls; Lambda would run each container in its own process).
WIDENED = ("AgentStartFunction", "AgentEventFunction", "AgentStatusFunction")


def say(message: str) -> None:
    """Progress, to the terminal: stdout itself is the functions' log while the stack runs."""
    print(message, file=sys.__stdout__, flush=True)


# --- the stack ------------------------------------------------------------------------------------------------------


def set_environment(database_url: str, work_dir: Path, sqs_endpoint: str, queue_url: str) -> None:
    """What template.yaml gives the functions, pointed at this run's own stack; read before any handler loads."""
    from local.server import configure_environment

    configure_environment(database_url, work_dir)
    os.environ.update(
        CLICKHOUSE_HOST="",
        CLICKHOUSE_LOCAL_PATH=str(work_dir / "clickhouse"),
        LOCAL_ACCESS_LOG="0",
        TQDM_DISABLE="1",  # the embeddings model's loading bar
        # The tokens carry the Supabase CLI's local issuer (as in tests).
        SUPABASE_JWT_ISSUER=DEV_JWT_ISSUER,
        AGENT_QUEUE_URL=queue_url,
        AWS_ENDPOINT_URL_SQS=sqs_endpoint,
        # Keep this machine's ~/.aws out of the SDK's view.
        AWS_CONFIG_FILE=str(work_dir / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(work_dir / "no-aws-credentials"),
        **AWS_TEST_CREDENTIALS,
    )


def widen(server: ThreadingHTTPServer, containers: int) -> None:
    """Gives each function in WIDENED `containers` warm containers (threads, each with its own event loop and, through
    agentmode.db, its own Postgres connection), so its requests run concurrently as on Lambda."""
    if containers <= 1:
        return
    import asyncio

    def container_init() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())

    host = cast(Any, server.RequestHandlerClass).host
    for name in WIDENED:
        host.containers[name].shutdown()
        host.containers[name] = ThreadPoolExecutor(max_workers=containers, thread_name_prefix=name, initializer=container_init)


# --- the checks only this stack can make ----------------------------------------------------------------------------


def realtime_checks(admin: psycopg.Connection[Any], result: RunResult) -> list[Check]:
    """Each event is broadcast by realtime.send inside its own transaction: every acknowledged event has exactly one
    message on its session's channel (the local stand-in's realtime.messages), and no message has no event."""
    acked = {str(log_id) for s in result.ledger.sessions.values() for log_id in s.acked.values()}
    rows = admin.execute(
        "SELECT m.payload ->> 'log_id' FROM realtime.messages m JOIN agentmode.agent_sessions s"
        " ON m.topic = 'agent-session:' || s.id::text WHERE s.user_id = ANY(%s)",
        (result.ledger.population.user_ids,),
    ).fetchall()
    received = Counter(str(row[0]) for row in rows)
    not_once = [f"{log_id}: {received[log_id]} times" for log_id in acked if received[log_id] != 1]
    unknown = [log_id for log_id in received if log_id not in acked]
    return [
        check("acknowledged events not broadcast exactly once", not_once, len(acked)),
        check("broadcasts of events nobody acknowledged", unknown, len(received)),
    ]


def sqs_checks(result: RunResult, queued: list[str]) -> list[Check]:
    created = {str(sid) for sid in result.ledger.sessions}
    counts = Counter(queued)
    return [
        check(
            "created sessions not queued exactly once",
            [f"{sid}: {n}" for sid in created if (n := counts[sid]) != 1],
            len(created),
        ),
        check("queued sessions nobody acknowledged", [sid for sid in counts if sid not in created], len(queued)),
    ]


# --- the run --------------------------------------------------------------------------------------------------------


def function_output(log_path: Path) -> dict[str, Any]:
    """What the functions logged (Powertools JSON on stdout), counted; the distinct WARNING/ERROR lines kept."""
    lines = log_path.read_text().splitlines() if log_path.exists() else []
    notable: Counter[str] = Counter()
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("WARNING", "ERROR"):
            keys = ("level", "service", "message", "error_code", "error_type")
            notable[" ".join(str(entry[k]) for k in keys if entry.get(k))] += 1
    return {
        "lines": len(lines),
        "warning_logs": sum('"level":"WARNING"' in line for line in lines),
        "error_logs": sum('"level":"ERROR"' in line for line in lines),
        "distinct_warnings_and_errors": dict(notable.most_common(10)),
    }


def measure(config: LoadConfig, containers: int, work_dir: Path) -> dict[str, Any]:
    """The whole run with stdout already redirected to the functions' log."""
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal started
        timings[name] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()

    say("starting embedded Postgres ...")
    database_url = start_postgres(work_dir / "pg")
    apply_migrations(database_url)
    lap("postgres_s")
    with sqs_queue() as (sqs_endpoint, queue_url):
        set_environment(database_url, work_dir, sqs_endpoint, queue_url)
        from local.lambda_runtime import use_layer

        use_layer()
        from agentmode.clickhouse import get_clickhouse
        from agentmode.embeddings import embedder_for
        from agentmode.settings import get_settings
        from local.clickhouse_schema import apply_schema
        from local.server import make_server

        clickhouse = get_clickhouse(get_settings())
        apply_schema(clickhouse)
        lap("clickhouse_s")
        server = make_server("127.0.0.1", 0)
        widen(server, containers)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base_url = f"http://127.0.0.1:{server.server_address[1]}"
        lap("runner_s")
        with psycopg.connect(database_url, autocommit=True) as admin:
            say(f"creating {config.users} users, their projects and traces (loads the embeddings model) ...")
            embed = embedder_for(get_settings()).embed
            population: Population = create_population(admin, clickhouse, config, os.environ["SUPABASE_JWT_SECRET"], embed)
            lap("population_s")
            say(f"load: {config.requests} requests from {config.clients} clients on {base_url} ...")
            result = run_load(base_url, population, config)
            lap("load_s")
            server.shutdown()
            server.server_close()
            say("checking the database, Realtime and SQS against every acknowledged answer ...")
            checks = [
                *verify(admin, population, result),
                *realtime_checks(admin, result),
                *sqs_checks(result, queued_session_ids(sqs_endpoint, queue_url)),
            ]
            lap("checks_s")
        # chDB must shut down before the interpreter: at exit it can abort, or re-create its folder after the cleanup.
        close_embedded = getattr(sys.modules["agentmode.clickhouse"], "close_embedded", None)
        if close_embedded is not None:
            close_embedded()
    summary = summarize(result)
    return {
        "machine": machine_info(),
        "config": {
            "clients": config.clients,
            "requests": config.requests,
            "users": config.users,
            "containers_per_agent_function": containers,
            "traces_per_project": config.traces_per_project,
            "spans_per_trace": config.spans_per_trace,
            "seed": config.seed,
            "mix_weights": config.mix,
        },
        "method": {
            "stack": "fresh embedded Postgres + chDB in a temporary folder; local/server.py's runner in a thread of this"
            " process (one warm container per function unless --containers); Realtime = realtime.send into the local"
            " stand-in; SQS = moto",
            "clients": "threads with one keep-alive http.client connection each, taking a seeded, fixed sequence of route"
            " kinds in turn; any client may report events on any user's session; no retries",
            "latency": "request sent to response read, per request, on the client (includes queueing for the function's"
            " container and the GIL shared with the runner)",
            "errors": "any 5xx, any status other than the one the request must get, transport errors, answers that"
            " contradict an earlier acknowledgement; expected refusals (422 key reuse, 404 for another user's session or"
            " project, 409 for events racing a session's completion) are not errors",
            "warmup": "one untimed request per route first (its writes are verified with the rest)",
        },
        "setup_seconds": timings,
        **summary,
        "function_output": {},
        "checks": [item.as_dict() for item in checks],
        "pass": summary["errors"] == 0 and not summary["warmup_errors"] and all(item.passed for item in checks),
    }


def print_report(results: dict[str, Any]) -> None:
    header = f"{'route':<28} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  statuses"
    print(f"\n{header}\n{'-' * len(header)}")
    for route, figures in results["routes"].items():
        statuses = " ".join(f"{code}x{count}" for code, count in figures["statuses"].items())
        print(
            f"{route:<28} {figures['requests']:>8} {figures['errors']:>6} {figures['p50_ms']:>8.1f} {figures['p99_ms']:>8.1f}"
            f" {figures['max_ms']:>8.1f}  {statuses}"
        )
    print(
        f"{'all':<28} {results['requests']:>8} {results['errors']:>6} {results['p50_ms']:>8.1f} {results['p99_ms']:>8.1f}"
        f" {results['max_ms']:>8.1f}"
    )
    config = results["config"]
    print(
        f"\nthroughput {results['throughput_rps']:.1f} req/s: {results['requests']} requests from {config['clients']} clients"
        f" in {results['wall_s']:.1f} s ({config['containers_per_agent_function']} container(s) per agent_* function);"
        f" errors {results['errors']} {results['error_kinds'] or ''}"
    )
    for example in results["error_examples"][:10] + results["warmup_errors"]:
        print(f"  error: {example[:300]}")
    print("acknowledged: " + ", ".join(f"{name} {count}" for name, count in results["acknowledged"].items()))
    print("expected refusals: " + (", ".join(f"{name} {n}" for name, n in results["expected_refusals"].items()) or "none"))
    output = results["function_output"]
    print(f"function logs: {output['lines']} lines, {output['warning_logs']} WARNING, {output['error_logs']} ERROR")
    for line, count in output["distinct_warnings_and_errors"].items():
        print(f"  {count} x {line}")
    print(f"setup: {results['setup_seconds']}")
    print(f"\nchecks: {'PASS' if all(c['pass'] for c in results['checks']) else 'FAIL'}")
    for item in results["checks"]:
        verdict = "NOTE" if item["offending"] and not item["fatal"] else "PASS" if item["pass"] else "FAIL"
        print(f"  [{verdict}] {item['check']}: {item['offending']} of {item['checked']}")
        for example in item["examples"]:
            print(f"      {example[:300]}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = LoadConfig()
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=defaults.clients, help=f"concurrent clients ({defaults.clients})")
    parser.add_argument("--requests", type=int, default=defaults.requests, help=f"requests in all ({defaults.requests})")
    parser.add_argument("--users", type=int, default=None, help="users (default: as many as clients)")
    parser.add_argument("--containers", type=int, default=1, help="warm containers per agent_* function (1: the runner's)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help=f"seed of the request mix ({defaults.seed})")
    parser.add_argument("--output", type=Path, default=None, help=f"results JSON (default: {RESULTS_FILE} in the results folder)")
    add_publish_flag(parser)
    args = parser.parse_args(argv)
    if min(args.clients, args.requests, args.containers) < 1 or (args.users is not None and args.users < 2):
        parser.error("--clients, --requests and --containers must be at least 1, --users at least 2")
    return args


def run(args: argparse.Namespace, work_dir: Path, log: TextIO) -> dict[str, Any]:
    config = LoadConfig(clients=args.clients, requests=args.requests, users=args.users or max(2, args.clients),
                        seed=args.seed, mix=dict(DEFAULT_MIX))  # fmt: skip
    # Powertools binds its logger to sys.stdout when the layer is first imported: that must be the log file.
    if "agentmode" in sys.modules:
        raise BenchError("the layer was imported before stdout was redirected")
    with contextlib.redirect_stdout(log):
        return measure(config, args.containers, work_dir)


def main(argv: list[str] | None = None) -> int:
    """Exit 1 on any error or failed check."""
    args = parse_args(argv)
    warnings.filterwarnings("ignore", "XDG_RUNTIME_DIR is not set")
    warnings.filterwarnings("ignore", "No application metrics to publish")
    work_dir = Path(tempfile.mkdtemp(prefix="agentmode-bench-load-"))
    # Registered before Postgres registers its own stop: atexit runs last-in first-out, so the cluster stops first.
    atexit.register(shutil.rmtree, work_dir, ignore_errors=True)
    log_path = work_dir / "function-stdout.log"
    try:
        with log_path.open("w") as log:
            results = run(args, work_dir, log)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    results["function_output"] = function_output(log_path)
    path = args.output or results_dir(args.publish) / RESULTS_FILE
    write_results(results, path)
    print_report(results)
    print(f"\nwrote {shown(path)}")
    return 0 if results["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
