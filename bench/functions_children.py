"""bench.functions' measuring: each cold start and each warm series in a fresh interpreter (bench/_child.py) that
sees only the build's folders and the environment template.yaml would give it."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.functions_config import CHILD, CHILD_TIMEOUT_SECONDS, COLD_RUNS, JWT_SECRET, RUNS, WARM_REQUESTS
from bench.functions_targets import Target
from local.devconfig import DEV_JWT_ISSUER, DEV_RUNNER_TOKEN_SECRET
from local.runner_queue import AWS_TEST_CREDENTIALS


def base_env(database_url: str, work_dir: Path) -> dict[str, str]:
    """What template.yaml gives every function, plus Lambda's locale and time zone; nothing leaks in from this shell."""
    return {
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "PYTHONDONTWRITEBYTECODE": "1",
        "ENVIRONMENT": "dev",
        "DATABASE_URL": database_url,
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        # agent_start signs each run's runner credential (docs/runner.md).
        "RUNNER_TOKEN_SECRET": DEV_RUNNER_TOKEN_SECRET,
        # agent_event's SUPABASE_URL is the loopback Realtime; the tokens keep the Supabase CLI's local issuer.
        "SUPABASE_JWT_ISSUER": DEV_JWT_ISSUER,
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "AWS_REGION": AWS_TEST_CREDENTIALS["AWS_DEFAULT_REGION"],
        "AWS_DEFAULT_REGION": AWS_TEST_CREDENTIALS["AWS_DEFAULT_REGION"],
        # Keep this machine's ~/.aws out of the SDK's view.
        "AWS_CONFIG_FILE": str(work_dir / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(work_dir / "no-aws-credentials"),
    }


def run_child(target: Target, mode: str, events: list[dict[str, Any]], env: dict[str, str], work_dir: Path) -> dict[str, Any]:
    """One fresh interpreter whose path holds the target's folders only (the function first, then the layer)."""
    stem = target.name.replace(" ", "_").replace("/", "_")
    spec_path, result_path = work_dir / f"{stem}-{mode}.json", work_dir / f"{stem}-{mode}.result.json"
    result_path.unlink(missing_ok=True)
    spec = {
        "mode": mode,
        "function_name": target.function,
        "timeout_seconds": target.timeout_seconds,
        "expected": target.expected,
        "events": events,
        "net_of": target.net_of,
    }
    spec_path.write_text(json.dumps(spec))
    child_env = {
        **env,
        "POWERTOOLS_SERVICE_NAME": target.function,  # unless the template names it
        **target.env,
        "PYTHONPATH": os.pathsep.join(map(str, target.python_path)),
    }
    command = [sys.executable, "-S", "-P", str(CHILD), str(spec_path), str(result_path)]
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter and script
            command, env=child_env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"{target.name} {mode} run did not finish in {CHILD_TIMEOUT_SECONDS} s") from None
    if done.returncode != 0:
        raise BenchError(f"{target.name} {mode} run failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(result_path.read_text())
    return result


def measure_cold(targets: list[Target], env: dict[str, str], work_dir: Path, run: int) -> dict[str, list[dict[str, float]]]:
    """One run: COLD_RUNS rounds over every target measured cold, interleaved, so drift on the machine spreads evenly
    over the functions and the baseline."""
    cold_targets = [target for target in targets if target.cold]
    processes: dict[str, list[dict[str, float]]] = {target.name: [] for target in cold_targets}
    for round_no in range(1, COLD_RUNS + 1):
        print(f"cold starts: run {run}/{RUNS}, round {round_no}/{COLD_RUNS}", flush=True)
        for target in cold_targets:
            processes[target.name].append(run_child(target, "cold", [target.next_event()], env, work_dir))
    return processes


def measure_warm(target: Target, env: dict[str, str], work_dir: Path) -> dict[str, list[float]]:
    """The per-call milliseconds (`timings_ms`) and, for a target measured net of a call, that call's (`excluded_ms`)."""
    print(f"warm: {target.name} x {WARM_REQUESTS[target.name]}", flush=True)
    events = [target.next_event() for _ in range(WARM_REQUESTS[target.name] + 1)]
    timings: dict[str, list[float]] = run_child(target, "warm", events, env, work_dir)
    return timings
