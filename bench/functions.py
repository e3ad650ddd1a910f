"""`make bench`: cold start and warm latency of each built function, next to a bare FastAPI + Mangum baseline.

Every figure comes from a fresh interpreter that sees only what `sam build` produced (bench/_child.py), talking to an
embedded Postgres, for agent_start to SQS served by moto on loopback, and for agent_event to a loopback stand-in of
Supabase Realtime's broadcast endpoint: the functions' real client paths.
The build ships bytecode (`make build` compiles it; Lambda's code folders are read-only, so Python could never cache
it there); the children write none (PYTHONDONTWRITEBYTECODE), as on Lambda. The baseline gets the same treatment.
"""

import atexit
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import psycopg

from local.apigw_event import build_event
from local.build import BUILD_DIR, compile_bytecode
from local.make_events import STRIPE_EVENT, stripe_signature_header
from local.seed import seed_user
from local.stack import ROOT, apply_migrations, start_postgres
from local.token import mint_token

LAYER = Path("CommonLayer") / "python"
BENCH_DIR = Path(__file__).resolve().parent
CHILD = BENCH_DIR / "_child.py"
BASELINE_DIR = BENCH_DIR / "baseline"
RESULTS_PATH = BENCH_DIR / "results" / "functions.json"

START, EVENT, STATUS, BASELINE = "AgentStartFunction", "AgentEventFunction", "AgentStatusFunction", "Baseline"
STRIPE = "StripeWebhookFunction"
FUNCTIONS = (START, EVENT, STATUS, STRIPE)
COLD_RUNS = 7
WARM_REQUESTS = {START: 200, EVENT: 300, STATUS: 300, STRIPE: 300, BASELINE: 300}
STRIPE_WEBHOOK_SECRET = "whsec_bench_only"  # noqa: S105 - verifies the bench's own deliveries
CHILD_TIMEOUT_SECONDS = 120

COLD_RATIO_LIMIT = 1.5
WARM_P50_LIMITS_MS = {STATUS: 3.0, EVENT: 6.0}

JWT_SECRET = "bench-only-hs256-secret-of-at-least-32-bytes"  # noqa: S105 - signs tokens for a throwaway database
AWS_TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}

EventFactory = Callable[[], dict[str, Any]]


class BenchError(Exception):
    """A functional failure (missing build, crashed child, wrong status): the figures of such a run mean nothing."""


@dataclass(frozen=True)
class Target:
    """One handler to measure: its code folders, how to make its next request, and the status that request must get."""

    name: str
    python_path: tuple[Path, ...]
    expected_status: int
    next_event: EventFactory
    env: dict[str, str] = field(default_factory=dict)


def snapshot_build(work_dir: Path) -> Path:
    """A private copy of the build as `make build` made it (a build meanwhile, e.g. by the tests, would swap the code
    mid-run), with the baseline beside it, compiled the same way."""
    if not BUILD_DIR.is_dir():
        raise BenchError(f"{BUILD_DIR} is missing; run `make build` first")
    build = shutil.copytree(BUILD_DIR, work_dir / "build", symlinks=True)
    missing = [path for path in [build / LAYER, *(build / name / "app.py" for name in FUNCTIONS)] if not path.exists()]
    if missing:
        raise BenchError(f"incomplete build: {', '.join(map(str, missing))}; run `make build` first")
    shutil.copytree(BASELINE_DIR, build / BASELINE, ignore=shutil.ignore_patterns("__pycache__"))
    compile_bytecode(build / BASELINE)
    return build


def api_event(method: str, path: str, *, token: str | None = None, query: str = "", body: Any = None) -> dict[str, Any]:
    """The v2 event API Gateway would send for one request."""
    headers = [("content-type", "application/json")]
    if token is not None:
        headers.append(("authorization", f"Bearer {token}"))
    return build_event(
        method=method,
        path=path,
        raw_query=query,
        headers=headers,
        body=json.dumps(body).encode() if body is not None else b"",
        route_key=f"{method} {path}",
        path_parameters={},
    )


def create_users(admin: psycopg.Connection[Any], count: int) -> list[uuid.UUID]:
    """Users with brand memory and credits; agent_start needs a fresh one per request (free plan: 10 starts a day)."""
    users = [uuid.uuid4() for _ in range(count)]
    with admin.transaction():
        for user_id in users:
            seed_user(admin, user_id, f"{user_id}@bench.local")
    return users


def create_session(admin: psycopg.Connection[Any], user_id: uuid.UUID) -> uuid.UUID:
    row = admin.execute("INSERT INTO agentmode.agent_sessions (user_id) VALUES (%s) RETURNING id", (user_id,)).fetchone()
    assert row is not None
    session_id: uuid.UUID = row[0]
    return session_id


def build_targets(
    admin: psycopg.Connection[Any], build: Path, sqs_env: dict[str, str], realtime_env: dict[str, str]
) -> list[Target]:
    """The three functions, each with the users and session its requests need, and the baseline."""
    layer = build / LAYER
    start_users = iter(create_users(admin, COLD_RUNS + 1 + WARM_REQUESTS[START]))
    event_user, status_user = create_users(admin, 2)
    event_token, status_token = mint_token(event_user, JWT_SECRET), mint_token(status_user, JWT_SECRET)
    event_body = {"session_id": str(create_session(admin, event_user)), "action_type": "tool_called", "tool_name": "bench_tool"}
    status_query = f"session_id={create_session(admin, status_user)}"

    def start_agent() -> dict[str, Any]:
        return api_event("POST", "/agent/start", token=mint_token(next(start_users), JWT_SECRET), body={"goal": "bench run"})

    def log_event() -> dict[str, Any]:
        return api_event("POST", "/agent/event", token=event_token, body=event_body)

    def read_status() -> dict[str, Any]:
        return api_event("GET", "/agent/status", token=status_token, query=status_query)

    def stripe_delivery() -> dict[str, Any]:
        """A fresh, signed event of a type the webhook acknowledges: verification, claim and commit, no Stripe API call."""
        body = json.dumps({**STRIPE_EVENT, "id": f"evt_{uuid.uuid4().hex}"}).encode()
        return build_event(
            method="POST",
            path="/v4/stripe-webhook",
            raw_query="",
            headers=[
                ("stripe-signature", stripe_signature_header(body, STRIPE_WEBHOOK_SECRET)),
                ("content-type", "application/json"),
            ],
            body=body,
            route_key="POST /v4/stripe-webhook",
            path_parameters={},
        )

    def ping() -> dict[str, Any]:
        return api_event("GET", "/ping")

    # Lambda's path order: the function's folder (/var/task) before the layer (/opt/python).
    return [
        Target(START, (build / START, layer), 201, start_agent, env=sqs_env),
        Target(EVENT, (build / EVENT, layer), 200, log_event, env=realtime_env),
        Target(STATUS, (build / STATUS, layer), 200, read_status),
        Target(STRIPE, (build / STRIPE, layer), 200, stripe_delivery, env={"STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET}),
        Target(BASELINE, (build / BASELINE, layer), 200, ping),
    ]


def sqs_client(endpoint: str) -> Any:
    """The bench's own client, to create the queue and count what agent_start sent to it."""
    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=AWS_TEST_CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=AWS_TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@contextmanager
def realtime_endpoint() -> Iterator[str]:
    """Answers `POST /realtime/v1/api/broadcast` with 202 as Supabase does, so agent_event's broadcast really happens."""

    class Accept(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(202)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Accept)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def sqs_queue() -> Iterator[tuple[str, str]]:
    """moto's SQS on a free loopback port, so agent_start's SQS client really sends; yields (endpoint, queue URL)."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # moto[sqs] alone lacks flask, which moto's server is built on
        raise BenchError(f"moto's server cannot start ({exc}); install moto[server]") from None
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        yield endpoint, sqs_client(endpoint).create_queue(QueueName="bench-agent-queue")["QueueUrl"]
    finally:
        server.stop()


def queued_messages(endpoint: str, queue_url: str) -> int:
    attributes = sqs_client(endpoint).get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def base_env(database_url: str, work_dir: Path) -> dict[str, str]:
    """What template.yaml gives every function, plus Lambda's locale and time zone; nothing leaks in from this shell."""
    return {
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "PYTHONDONTWRITEBYTECODE": "1",
        "ENVIRONMENT": "dev",
        "DATABASE_URL": database_url,
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "AWS_DEFAULT_REGION": AWS_TEST_CREDENTIALS["AWS_DEFAULT_REGION"],
        # Keep this machine's ~/.aws out of the SDK's view.
        "AWS_CONFIG_FILE": str(work_dir / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(work_dir / "no-aws-credentials"),
    }


def run_child(target: Target, mode: str, events: list[dict[str, Any]], env: dict[str, str], work_dir: Path) -> dict[str, Any]:
    """One fresh interpreter whose path holds the target's folders only (the function first, then the layer)."""
    spec_path, result_path = work_dir / f"{target.name}-{mode}.json", work_dir / f"{target.name}-{mode}.result.json"
    result_path.unlink(missing_ok=True)
    spec = {"mode": mode, "function_name": target.name, "expected_status": target.expected_status, "events": events}
    spec_path.write_text(json.dumps(spec))
    child_env = {
        **env,
        **target.env,
        "PYTHONPATH": os.pathsep.join(map(str, target.python_path)),
        "POWERTOOLS_SERVICE_NAME": target.name,
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


def measure_cold(targets: list[Target], env: dict[str, str], work_dir: Path) -> dict[str, list[dict[str, float]]]:
    """COLD_RUNS rounds over all targets, interleaved, so drift on the machine spreads evenly over them."""
    runs: dict[str, list[dict[str, float]]] = {target.name: [] for target in targets}
    for round_no in range(1, COLD_RUNS + 1):
        print(f"cold starts: round {round_no}/{COLD_RUNS}", flush=True)
        for target in targets:
            runs[target.name].append(run_child(target, "cold", [target.next_event()], env, work_dir))
    return runs


def measure_warm(target: Target, env: dict[str, str], work_dir: Path) -> list[float]:
    print(f"warm: {target.name} x {WARM_REQUESTS[target.name]}", flush=True)
    events = [target.next_event() for _ in range(WARM_REQUESTS[target.name] + 1)]
    timings: list[float] = run_child(target, "warm", events, env, work_dir)["timings_ms"]
    return timings


def cold_summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    """Medians of each part; the total's median is its own (it need not equal the sum of the parts' medians)."""
    return {
        "runs": [{key: round(value, 2) for key, value in run.items()} for run in runs],
        "import_ms": round(statistics.median(run["import_ms"] for run in runs), 2),
        "first_request_ms": round(statistics.median(run["first_request_ms"] for run in runs), 2),
        "total_ms": round(statistics.median(run["total_ms"] for run in runs), 2),
    }


def warm_summary(timings: list[float]) -> dict[str, Any]:
    return {
        "requests": len(timings),
        "p50_ms": round(statistics.median(timings), 3),
        "p99_ms": round(statistics.quantiles(timings, n=100, method="inclusive")[98], 3),
        "mean_ms": round(statistics.fmean(timings), 3),
    }


def check(target: str, value: float, limit: float, unit: str) -> dict[str, Any]:
    return {"target": target, "value": value, "limit": limit, "unit": unit, "pass": value <= limit}


def evaluate_targets(functions: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The agreed budgets; reported, never fatal (only functional errors fail the run)."""
    cold = [
        check(
            f"{name} cold start <= {COLD_RATIO_LIMIT:g} x baseline",
            functions[name]["cold_ratio_to_baseline"],
            COLD_RATIO_LIMIT,
            "x",
        )
        for name in FUNCTIONS
    ]
    warm = [
        check(f"{name} warm p50 <= {limit:g} ms", functions[name]["warm"]["p50_ms"], limit, "ms")
        for name, limit in WARM_P50_LIMITS_MS.items()
    ]
    return cold + warm


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.processor())


def machine_info() -> dict[str, Any]:
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def print_table(baseline: dict[str, Any], functions: dict[str, dict[str, Any]], targets: list[dict[str, Any]]) -> None:
    header = f"{'function':<20} {'import ms':>10} {'1st req ms':>10} {'cold ms':>9} {'x base':>7} {'warm p50':>9} {'warm p99':>9}"
    print(f"\n{header}\n{'-' * len(header)}")
    for name, figures in [*functions.items(), (BASELINE, {**baseline, "cold_ratio_to_baseline": 1.0})]:
        cold, warm = figures["cold"], figures["warm"]
        print(
            f"{name:<20} {cold['import_ms']:>10.1f} {cold['first_request_ms']:>10.1f} {cold['total_ms']:>9.1f}"
            f" {figures['cold_ratio_to_baseline']:>7.2f} {warm['p50_ms']:>9.2f} {warm['p99_ms']:>9.2f}"
        )
    print(f"\ncold: median of {COLD_RUNS} fresh processes; warm: per-call ms in one process after a warm-up call")
    for target in targets:
        print(f"  [{'PASS' if target['pass'] else 'FAIL'}] {target['target']}: {target['value']:g} {target['unit']}")


def write_results(results: dict[str, Any]) -> None:
    """Through a temporary file, so an interrupted run never leaves half a JSON behind."""
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    partial = RESULTS_PATH.with_suffix(".json.tmp")
    partial.write_text(json.dumps(results, indent=2) + "\n")
    partial.replace(RESULTS_PATH)


def measure(database_url: str, build: Path, work_dir: Path) -> dict[str, Any]:
    """Every measurement against one database and one queue; checks that each agent_start really reached SQS."""
    env = base_env(database_url, work_dir)
    with (
        sqs_queue() as (endpoint, queue_url),
        realtime_endpoint() as realtime_url,
        psycopg.connect(database_url, autocommit=True) as admin,
    ):
        sqs_env = {**AWS_TEST_CREDENTIALS, "AGENT_QUEUE_URL": queue_url, "AWS_ENDPOINT_URL_SQS": endpoint}
        realtime_env = {"SUPABASE_URL": realtime_url, "SUPABASE_SERVICE_ROLE_KEY": "bench-service-role-key"}
        targets = build_targets(admin, build, sqs_env, realtime_env)
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
            "realtime": "a loopback endpoint answering 202 like Supabase's broadcast API; agent_event broadcasts each event",
        },
        "sqs_messages_received": sent,
        "baseline": baseline,
        "functions": functions,
        "targets": evaluate_targets(functions),
    }


def main() -> int:
    """Exit 1 on a functional error only: a missed target is a finding, not a failure of the benchmark."""
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
    write_results(results)
    print_table(results["baseline"], results["functions"], results["targets"])
    print(f"\nwrote {RESULTS_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
