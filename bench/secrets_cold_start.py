"""Cold start of one built function with its secrets in its environment (before #16) and read at run time through the
AWS Parameters and Secrets Lambda Extension (after #16), in the same run, interleaved.

agent_status from the build output alone, a fresh interpreter per run (bench/_child.py, as bench.functions does):

    env        DATABASE_URL and SUPABASE_JWT_SECRET as plain variables (what CloudFormation's dynamic references gave)
    extension  DATABASE_URL_SECRET_ID and SUPABASE_JWT_SECRET_SECRET_ID, each read once from a loopback stand-in of the
               extension (tests/secrets_extension_stub.py: the extension's documented route, token and answer)

`python -m bench.secrets_cold_start [--runs 9] [--publish]`; results: secrets_cold_start.json.
"""

import argparse
import atexit
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import psycopg

from bench.functions_children import base_env, run_child
from bench.functions_config import JWT_SECRET, LAYER, STATUS
from bench.functions_requests import HTTP_OK, api_event, create_session, create_users
from bench.functions_targets import Target, snapshot_build
from bench.machine import machine_info
from bench.results_dir import add_publish_flag, results_dir, shown, write_results
from local.stack import apply_migrations, start_postgres
from local.token import mint_token
from tests.secrets_extension_stub import SecretsExtensionStub

RESULTS_FILE = "secrets_cold_start.json"
PREFIX = "agentmode/bench"


def measure(runs: int) -> dict[str, Any]:
    work_dir = Path(tempfile.mkdtemp(prefix="agentmode-bench-secrets-"))
    atexit.register(shutil.rmtree, work_dir, ignore_errors=True)
    build = snapshot_build(work_dir)
    database_url = start_postgres(work_dir / "pg")
    apply_migrations(database_url)
    extension = SecretsExtensionStub()
    extension.put(f"{PREFIX}/DATABASE_URL", database_url)
    extension.put(f"{PREFIX}/SUPABASE_JWT_SECRET", JWT_SECRET)
    with psycopg.connect(database_url, autocommit=True) as admin:
        (user,) = create_users(admin, 1)
        query = f"session_id={create_session(admin, user)}"
    token = mint_token(user, JWT_SECRET)
    env = base_env(database_url, work_dir)
    plain = {name: value for name, value in env.items() if name not in ("DATABASE_URL", "SUPABASE_JWT_SECRET")}
    by_secret = {
        **plain, **extension.environment,
        "DATABASE_URL_SECRET_ID": f"{PREFIX}/DATABASE_URL", "SUPABASE_JWT_SECRET_SECRET_ID": f"{PREFIX}/SUPABASE_JWT_SECRET",
    }  # fmt: skip
    paths = (build / STATUS, build / LAYER)
    targets = {
        "env": Target(STATUS, paths, HTTP_OK, lambda: api_event("GET", "/agent/status", token=token, query=query)),
        "extension": Target(STATUS, paths, HTTP_OK, lambda: api_event("GET", "/agent/status", token=token, query=query)),
    }
    envs = {"env": env, "extension": by_secret}
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
    for round_no in range(1, runs + 1):
        print(f"round {round_no}/{runs}", flush=True)
        for name, target in targets.items():
            samples[name].append(run_child(target, "cold", [target.next_event()], envs[name], work_dir))
    reads = extension.reads_of(f"{PREFIX}/DATABASE_URL")
    extension.close()
    parts = ("import_ms", "first_request_ms", "total_ms")
    medians = {
        name: {part: round(statistics.median(run[part] for run in values), 2) for part in parts}
        for name, values in samples.items()
    }
    return {
        "method": __doc__,
        "machine": machine_info(),
        "runs": runs,
        "extension_reads_of_database_url": reads,
        "median_ms": medians,
        "extension_over_env": round(medians["extension"]["total_ms"] / medians["env"]["total_ms"], 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    add_publish_flag(parser)
    args = parser.parse_args(argv)
    results = measure(args.runs)
    path = results_dir(args.publish) / RESULTS_FILE
    write_results(results, path)
    for name, figures in results["median_ms"].items():
        parts = f"import {figures['import_ms']:.1f}, first request {figures['first_request_ms']:.1f}"
        print(f"{name:10} {parts}, total {figures['total_ms']:.1f} ms")
    reads = results["extension_reads_of_database_url"]
    print(f"extension / env: {results['extension_over_env']:.3f} x ({reads} reads of DATABASE_URL)")
    print(f"wrote {shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
