"""`make bench`: cold start and warm latency of every built function, next to a bare FastAPI + Mangum baseline.

Every figure comes from a fresh interpreter that sees only what `sam build` produced (bench/_child.py), with the
environment template.yaml gives the function and the production providers selected, each pointed at a loopback
stand-in so the functions' real client paths run: an embedded Postgres (with the local stand-in of Supabase's
realtime schema, which agent_event's events are broadcast into), SQS (moto for agent_start; an instant stand-in for
agent_control and run_sweeper), Bedrock's InvokeModel (memory_read, memory_write) and ClickHouse's HTTP interface
answered by chDB (traces, opsboard_projects, opsboard_billing). The build ships bytecode (`make build` compiles it;
Lambda's code folders are read-only, so Python could never cache it there); the children write none
(PYTHONDONTWRITEBYTECODE), as on Lambda. The baseline gets the same treatment.

The parts: bench.functions_config (knobs), bench.functions_targets (the build, each function's template
environment), bench.functions_requests (each handler's requests and their data), bench.functions_children (the fresh
interpreters), bench.functions_report (figures and budgets).
"""

import argparse
import atexit
import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

from bench.errors import BenchError
from bench.functions_children import base_env, measure_cold, measure_warm
from bench.functions_config import (
    BASELINE,
    COLD_RUNS,
    CONTROL,
    MEMORY_READ,
    MEMORY_WRITE,
    RESULTS_FILE,
    RUNS,
    START,
    WARM_NET_OF,
)
from bench.functions_report import cold_ratios, cold_summary, evaluate_targets, print_table, warm_summary
from bench.functions_requests import StandIns, build_targets, requests_per_target
from bench.functions_targets import snapshot_build
from bench.loopback import bedrock_runtime, clickhouse_http, queued_messages, sqs_queue
from bench.machine import machine_info
from bench.results_dir import add_publish_flag, results_dir, shown, write_results
from bench.runner_loop_sqs import recording_sqs
from local.clickhouse_schema import apply_schema
from local.lambda_runtime import use_layer
from local.stack import apply_migrations, start_postgres


@contextlib.contextmanager
def stand_ins(database_url: str, work_dir: Path) -> Iterator[StandIns]:
    """Every loopback service, up for the whole measurement; chDB with the ClickHouse schema applied."""
    use_layer()
    from agentmode.clickhouse import EmbeddedClickHouse

    engine = EmbeddedClickHouse(str(work_dir / "clickhouse"), query_timeout_seconds=10)
    try:
        apply_schema(engine)
        with (
            sqs_queue() as start_queue,
            recording_sqs() as runner_queue,
            bedrock_runtime() as bedrock,
            clickhouse_http(engine) as clickhouse,
        ):
            yield StandIns(database_url, start_queue, runner_queue, bedrock, clickhouse, engine)
    finally:
        engine.close()


def check_calls(services: StandIns) -> dict[str, int]:
    """What the 2xx answers claim reached each service did: every agent_start message in SQS, every answer queued,
    every memory request embedded once. A shortfall means the figures timed something else than they say."""
    found = {
        "sqs_messages_from_agent_start": queued_messages(*services.start_queue),
        "answers_queued_by_agent_control": len(services.runner_queue.groups_of("answer")),
        "bedrock_invocations": services.bedrock.invocations,
    }
    expected = {
        "sqs_messages_from_agent_start": requests_per_target(START),
        "answers_queued_by_agent_control": requests_per_target(CONTROL),
        "bedrock_invocations": requests_per_target(MEMORY_WRITE) + requests_per_target(MEMORY_READ),
    }
    if found != expected:
        raise BenchError(f"the functions' answers and the stand-ins disagree: found {found}, expected {expected}")
    return found


def measure(database_url: str, build: Path, work_dir: Path) -> dict[str, Any]:
    """RUNS cold runs over every target, then a warm series of each, against one database and one set of stand-ins."""
    env = base_env(database_url, work_dir)
    with stand_ins(database_url, work_dir) as services, psycopg.connect(database_url, autocommit=True) as admin:
        targets = build_targets(admin, build, services)
        cold_runs = [measure_cold(targets, env, work_dir, run) for run in range(1, RUNS + 1)]
        warm = {
            target.name: warm_summary(measure_warm(target, env, work_dir), WARM_NET_OF.get(target.name, ("", "", ""))[2])
            for target in targets
        }
        calls = check_calls(services)
    cold = {name: cold_summary([run[name] for run in cold_runs]) for name in cold_runs[0]}
    baseline = {"cold": cold.pop(BASELINE), "warm": warm.pop(BASELINE)}
    functions = {
        name: {"cold": figures, **cold_ratios(figures, baseline["cold"]), "warm": warm.pop(name)}
        for name, figures in cold.items()
    }
    return {
        "machine": machine_info(),
        "method": {
            "runs": RUNS,
            "cold_runs": COLD_RUNS,
            "cold": f"{RUNS} runs, each of {COLD_RUNS} rounds over every function and the baseline in turn; a fresh"
            " `python -S -P` per cold start, PYTHONPATH = built function + layer only (with the build's bytecode), none"
            " written; import app, then the first handler call (includes the Postgres connect and each function's first"
            " call to its service); a function's ratio is the median of the runs' ratios of median totals",
            "warm": "one process per function (and per extra route), one untimed warm-up call, then each handler call"
            " timed in-process; "
            + "; ".join(f"{name} also net of {what}, timed inside each request" for name, (*_, what) in WARM_NET_OF.items()),
            "environment": "template.yaml's variables for each function (Refs to the stand-ins, secrets as plain values);"
            " run_sweeper's stall timeout 86400 s, so a sweep finds nothing due (a scheduled minute with no work)",
            "sqs": "agent_start: moto server on loopback; agent_control, run_sweeper: an instant SendMessage stand-in"
            " (bench.runner_loop_sqs); each through the function's own client",
            "bedrock": "InvokeModel stand-in on loopback answering Titan V2's body in the configured dimension",
            "clickhouse": "ClickHouse's HTTP interface on loopback, statements run by chDB with the schema and 50"
            " traces of 10 spans per measured project; reached by the functions' own client (agentmode/clickhouse.py)"
            " over plain HTTP",
            "realtime": "realtime.send inside each event's transaction, into the local stand-in of Supabase's realtime schema",
        },
        "calls": calls,
        "baseline": baseline,
        "functions": functions,
        "warm_only": warm,
        "targets": evaluate_targets(functions, warm),
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
    print_table(results)
    print(f"\nwrote {shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
