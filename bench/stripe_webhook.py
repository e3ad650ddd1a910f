"""`python -m bench.stripe_webhook`: the Stripe webhook under a realistic delivery storm, checked against a calm replay.

2,000 signed deliveries (1,400 unique events and 600 re-sends, shuffled) go through the real handler from 8 threads
at once, against the embedded Postgres and a loopback Stripe API (tests.stripe_stub): Stripe delivers at least once
and in no particular order, so checkouts often arrive after their subscription's updates and updates overtake each
other. Then each unique event is delivered once, in `created` order, from one thread, into a second database. Both
databases must end with every organization in the same billing state: the concurrent phase's throughput means
nothing unless its result is the one an orderly world would have produced.

Each worker thread is one warm Lambda container: its own asyncio loop (Mangum runs each request on it) and its own
database connection (agentmode.db keeps one per thread), opened before the clock starts.
"""

import argparse
import asyncio
import atexit
import contextlib
import json
import os
import queue
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.rows import dict_row

from bench.functions import machine_info
from local.apigw_event import build_event
from local.lambda_runtime import Handler, LambdaContext, load_handler
from local.stack import ROOT, apply_migrations, start_postgres
from tests import stripe_stub

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "stripe_webhook.json"
FUNCTION_DIR = ROOT / "functions" / "stripe_webhook"
FUNCTION_NAME = "StripeWebhookFunction"
PATH = "/v4/stripe-webhook"
SECRET = "whsec_bench_only_secret_for_a_throwaway_database"  # noqa: S105 - signs deliveries to a throwaway database
REPLAY_DB = "replay"

SEED = 20261125
ORGS = 150
UNIQUE_EVENTS = 1_400
DUPLICATES = 600
WORKERS = 8
DELETED_ORGS = 30  # 20 %: the subscription ends with customer.subscription.deleted
DISPUTED_ORGS = 8  # ~5 %: one charge.dispute.created somewhere after the checkout
UPDATES_PER_ORG = (3, 10)
STATUSES = ("active", "trialing", "past_due", "unpaid", "canceled")
DAY = 86_400
MONTH = 30 * DAY
MAX_GAP_SECONDS = 3_600

COMPARED_COLUMNS = (
    "prem_status",
    "subscription_id",
    "subscription_status",
    "subscription_end_date",
    "subscription_cancel_at_period_end",
    "stripe_customer_id",
    "billing_flagged",
    # Derived from every status the org's events carried, so it must match the in-order replay too.
    "past_due_since",
    "effective_plan",
)
NOT_COMPARED = {
    "billing_state_at/billing_state_rank": "bookkeeping of the ordering guard",
    "updated_at": "wall-clock time of the write",
}


class BenchError(Exception):
    """A functional failure (a delivery not answered 200, a crash): the figures of such a run mean nothing."""


@dataclass(frozen=True)
class Delivery:
    """One event as Stripe would send it: the exact bytes that get signed, and what the verification needs to know."""

    event_id: str
    type: str
    created: int
    org_id: uuid.UUID
    raw: bytes


@dataclass(frozen=True)
class Workload:
    seed: int
    orgs: list[uuid.UUID]
    events: list[Delivery]  # unique, in `created` order
    deliveries: list[Delivery]  # events plus re-sends, shuffled


@dataclass(frozen=True)
class Answer:
    """What one delivery got back; status 0 when the handler raised instead of answering."""

    delivery: Delivery
    status: int
    outcome: str | None
    body: str
    latency_ms: float


@dataclass
class Phase:
    name: str
    answers: list[Answer] = field(default_factory=list)
    wall_seconds: float = 0.0


# --- the workload ---------------------------------------------------------------------------------------------------


def customer_of(org_id: uuid.UUID) -> str:
    """One customer per organization: the webhook falls back to the customer id to find an org."""
    return f"cus_{org_id.hex[:14]}"


def random_id(rng: random.Random, prefix: str) -> str:
    return f"{prefix}_{rng.getrandbits(96):024x}"


def updates_per_org(rng: random.Random) -> list[int]:
    """Random counts within UPDATES_PER_ORG, nudged until the whole workload has exactly UNIQUE_EVENTS events."""
    low, high = UPDATES_PER_ORG
    counts = [rng.randint(low, high) for _ in range(ORGS)]
    target = UNIQUE_EVENTS - ORGS - DELETED_ORGS - DISPUTED_ORGS
    assert low * ORGS <= target <= high * ORGS, "the workload constants cannot add up to UNIQUE_EVENTS"
    while (total := sum(counts)) != target:
        i = rng.randrange(ORGS)
        if total < target and counts[i] < high:
            counts[i] += 1
        elif total > target and counts[i] > low:
            counts[i] -= 1
    return counts


def kinds_of(rng: random.Random, updates: int, deleted: bool, disputed: bool) -> list[str]:
    """One organization's event types in timeline order: the checkout first; a dispute anywhere after it."""
    kinds = ["checkout", *["updated"] * updates, *(["deleted"] if deleted else [])]
    if disputed:
        kinds.insert(rng.randint(1, len(kinds)), "dispute")
    return kinds


def to_delivery(payload: dict[str, Any], org_id: uuid.UUID) -> Delivery:
    raw = json.dumps(payload).encode()
    return Delivery(payload["id"], payload["type"], payload["created"], org_id, raw)


def org_timeline(
    rng: random.Random, stub: stripe_stub.StripeApiStub, org_id: uuid.UUID, kinds: list[str], start: int
) -> list[Delivery]:
    """An organization's events, strictly increasing in `created` (1 s to an hour apart), with what Stripe's API must
    answer for the checkout session and the disputed charge registered in the stub."""
    customer, sub_id = customer_of(org_id), random_id(rng, "sub")
    created, events = start, []
    for kind in kinds:
        created += rng.randint(1, MAX_GAP_SECONDS)
        if kind == "checkout":
            session = stripe_stub.checkout_session(random_id(rng, "cs"), str(org_id), sub_id, customer)
            stub.add_checkout(session, stripe_stub.subscription(sub_id, "active", customer=customer, period_end=start + MONTH))
            payload = stripe_stub.event("checkout.session.completed", session, created, random_id(rng, "evt"))
        elif kind == "dispute":
            charge_id = random_id(rng, "ch")
            stub.add_charge(charge_id, customer)
            payload = stripe_stub.event("charge.dispute.created", stripe_stub.dispute(random_id(rng, "dp"), charge_id), created,
                                        random_id(rng, "evt"))  # fmt: skip
        else:
            subscription = stripe_stub.subscription(
                sub_id,
                "canceled" if kind == "deleted" else rng.choice(STATUSES),
                customer=customer,
                cancel_at_period_end=rng.random() < 0.3,
                period_end=start + rng.randint(1, 12) * MONTH,
            )
            payload = stripe_stub.event(f"customer.subscription.{kind}", subscription, created, random_id(rng, "evt"))
        events.append(to_delivery(payload, org_id))
    return events


def build_workload(stub: stripe_stub.StripeApiStub, seed: int) -> Workload:
    """Seeded, so every run sends the same story (only the timestamps follow the clock: the last three days, so the
    7-day past_due grace period of org_effective_plan is still running for every org)."""
    rng = random.Random(seed)
    orgs = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(ORGS)]
    deleted, disputed = set(rng.sample(orgs, DELETED_ORGS)), set(rng.sample(orgs, DISPUTED_ORGS))
    first_day = int(time.time()) - 3 * DAY
    events: list[Delivery] = []
    for org_id, updates in zip(orgs, updates_per_org(rng), strict=True):
        kinds = kinds_of(rng, updates, org_id in deleted, org_id in disputed)
        events += org_timeline(rng, stub, org_id, kinds, first_day + rng.randint(0, 2 * DAY))
    assert len(events) == UNIQUE_EVENTS
    deliveries = events + [rng.choice(events) for _ in range(DUPLICATES)]
    rng.shuffle(deliveries)
    return Workload(seed, orgs, sorted(events, key=lambda e: e.created), deliveries)


# --- the databases --------------------------------------------------------------------------------------------------


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


# --- delivering -----------------------------------------------------------------------------------------------------


def set_function_env(database_url: str, stub_url: str) -> None:
    """What template.yaml gives the function, pointed at the embedded stack; read by Powertools at import."""
    os.environ.update(
        DATABASE_URL=database_url,
        ENVIRONMENT="dev",
        STRIPE_WEBHOOK_SECRET=SECRET,
        STRIPE_SECRET_KEY="sk_test_bench",  # noqa: S106 - only ever sent to the loopback stub
        STRIPE_SUBSCRIPTION_PRICE_ID=stripe_stub.PRICE_ID,
        STRIPE_API_BASE=stub_url,
        POWERTOOLS_SERVICE_NAME=FUNCTION_NAME,
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )


def fresh_container(database_url: str) -> None:
    """Points the function at `database_url`: settings re-read, the calling thread's connection closed."""
    from agentmode import db
    from agentmode.settings import get_settings

    os.environ["DATABASE_URL"] = database_url
    get_settings.cache_clear()
    db.close_connection()


def deliver(handler: Handler, delivery: Delivery) -> Answer:
    """Signed now (Stripe signs each attempt; the webhook refuses signatures older than 5 minutes); only the handler
    call is timed."""
    headers = [("content-type", "application/json"), ("stripe-signature", stripe_stub.sign(delivery.raw, SECRET))]
    event = build_event(method="POST", path=PATH, raw_query="", headers=headers, body=delivery.raw,
                        route_key=f"POST {PATH}", path_parameters={})  # fmt: skip
    started = time.perf_counter_ns()
    try:
        response = handler(event, LambdaContext(function_name=FUNCTION_NAME))
    except Exception as exc:  # noqa: BLE001 - an exception escaping the handler is recorded as a failed delivery
        return Answer(delivery, 0, None, f"{type(exc).__name__}: {exc}", (time.perf_counter_ns() - started) / 1e6)
    latency_ms = (time.perf_counter_ns() - started) / 1e6
    status, body = int(response.get("statusCode", 0)), str(response.get("body") or "")
    outcome = json.loads(body).get("outcome") if status == 200 else None
    return Answer(delivery, status, outcome, body, latency_ms)


@contextlib.contextmanager
def container_thread() -> Iterator[None]:
    """A Lambda container's lifetime on this thread: its own event loop for Mangum, its connection closed at the end."""
    from agentmode import db

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        db.get_connection()  # a warm container already holds its connection
        yield
    finally:
        db.close_connection()
        asyncio.set_event_loop(None)
        loop.close()


def worker(handler: Handler, todo: queue.SimpleQueue[Delivery], start: threading.Barrier, answers: list[Answer]) -> None:
    """One container: takes the next delivery until none is left."""
    with container_thread():
        start.wait()
        while True:
            try:
                delivery = todo.get_nowait()
            except queue.Empty:
                return
            answers.append(deliver(handler, delivery))


def run_concurrent(handler: Handler, deliveries: list[Delivery]) -> Phase:
    """WORKERS containers pulling from one queue, as Stripe's deliveries land on whichever container is free."""
    todo: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
    for delivery in deliveries:
        todo.put(delivery)
    phase, start = Phase(f"concurrent ({WORKERS} workers)"), threading.Barrier(WORKERS + 1)
    threads = [threading.Thread(target=worker, args=(handler, todo, start, phase.answers)) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    phase.wall_seconds = time.perf_counter() - began
    return phase


def run_sequential(handler: Handler, events: list[Delivery]) -> Phase:
    """The reference: every unique event once, oldest first, one at a time."""
    phase = Phase("sequential replay")
    with container_thread():
        began = time.perf_counter()
        phase.answers = [deliver(handler, event) for event in events]
        phase.wall_seconds = time.perf_counter() - began
    return phase


def require_all_ok(phase: Phase) -> None:
    failed = [answer for answer in phase.answers if answer.status != 200]
    if failed:
        shown = "\n".join(f"  {a.delivery.type} {a.delivery.event_id}: HTTP {a.status} {a.body[:500]}" for a in failed[:10])
        raise BenchError(f"{phase.name}: {len(failed)} deliveries not answered 200:\n{shown}")


# --- verifying ------------------------------------------------------------------------------------------------------

OrgStates = dict[uuid.UUID, dict[str, Any]]


def org_states(uri: str) -> OrgStates:
    with psycopg.connect(uri, row_factory=dict_row) as conn:
        rows = conn.execute(
            f"SELECT id, {', '.join(COMPARED_COLUMNS[:-1])},"
            " agentmode.org_effective_plan(o) AS effective_plan FROM agentmode.orgs o"
        ).fetchall()
    return {row["id"]: row for row in rows}


def scalar(uri: str, sql: str) -> Any:
    with psycopg.connect(uri) as conn:
        row = conn.execute(sql.encode()).fetchone()
    return row[0] if row else None


def event_history(uri: str, org_events: list[Delivery]) -> list[str]:
    """An org's events as the concurrent phase handled them (in the order they were claimed), to explain a mismatch."""
    by_id = {event.event_id: event for event in org_events}
    with psycopg.connect(uri) as conn:
        rows = conn.execute(
            "SELECT id, outcome FROM agentmode.stripe_events WHERE id = ANY(%s) ORDER BY processed_at, created", (list(by_id),)
        ).fetchall()
    return [f"{by_id[event_id].type}@{by_id[event_id].created} -> {outcome}" for event_id, outcome in rows]


def org_diffs(got: OrgStates, want: OrgStates, workload: Workload, concurrent_uri: str) -> list[dict[str, Any]]:
    """Every compared column of every org, concurrent phase vs sequential replay; a diff names its org's history."""
    by_org: dict[uuid.UUID, list[Delivery]] = {}
    for event in workload.events:
        by_org.setdefault(event.org_id, []).append(event)
    diffs = []
    for org_id in workload.orgs:
        columns = {
            column: {"concurrent": got[org_id][column], "replay": want[org_id][column]}
            for column in COMPARED_COLUMNS
            if got[org_id][column] != want[org_id][column]
        }
        if columns:
            history = event_history(concurrent_uri, by_org[org_id])
            diffs.append({"org_id": str(org_id), "columns": columns, "concurrent_history_in_claim_order": history})
    return diffs


def check(name: str, value: Any, expected: Any) -> dict[str, Any]:
    return {"check": name, "value": value, "expected": expected, "pass": value == expected}


def verify(concurrent_uri: str, replay_uri: str, workload: Workload, concurrent: Phase) -> dict[str, Any]:
    """Same final org states as the replay, each event claimed once, every duplicate recognised, nothing left parked."""
    got, want = org_states(concurrent_uri), org_states(replay_uri)
    diffs = org_diffs(got, want, workload, concurrent_uri)
    outcomes = Counter(answer.outcome for answer in concurrent.answers)
    events, parked = "SELECT count(*) FROM agentmode.stripe_events", "SELECT count(*) FROM agentmode.stripe_parked_events"
    unlinked = "SELECT count(*) FROM agentmode.billing_disputes WHERE org_id IS NULL"
    checks = [
        check("orgs whose compared columns differ from the replay", len(diffs), 0),
        check("stripe_events rows (concurrent)", scalar(concurrent_uri, events), len(workload.events)),
        check("deliveries answered `duplicate`", outcomes["duplicate"], len(workload.deliveries) - len(workload.events)),
        check("parked events never applied", scalar(concurrent_uri, f"{parked} WHERE applied_at IS NULL"), 0),
        check("disputes recorded without an org (concurrent)", scalar(concurrent_uri, unlinked), 0),
        check("stripe_events rows (replay)", scalar(replay_uri, events), len(workload.events)),
    ]
    return {
        "pass": all(c["pass"] for c in checks),
        "compared_columns": list(COMPARED_COLUMNS),
        "not_compared": NOT_COMPARED,
        "parked_events_total": scalar(concurrent_uri, parked),
        "checks": checks,
        "diffs": diffs,
    }


# --- reporting ------------------------------------------------------------------------------------------------------


def latency_summary(latencies: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies)
    p99 = statistics.quantiles(ordered, n=100, method="inclusive")[98] if len(ordered) > 1 else ordered[0]
    return {
        "count": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(p99, 2),
        "max_ms": round(ordered[-1], 2),
    }


def phase_summary(phase: Phase) -> dict[str, Any]:
    """Throughput counts deliveries (duplicates included: each is a full request Stripe made)."""
    by_kind: dict[str, list[float]] = {}
    for answer in phase.answers:
        kind = "duplicate" if answer.outcome == "duplicate" else answer.delivery.type
        by_kind.setdefault(kind, []).append(answer.latency_ms)
    overall = latency_summary([answer.latency_ms for answer in phase.answers])
    return {
        "name": phase.name,
        "deliveries": overall.pop("count"),
        "wall_s": round(phase.wall_seconds, 3),
        "events_per_s": round(len(phase.answers) / phase.wall_seconds, 1),
        **overall,
        "outcomes": dict(Counter(str(answer.outcome) for answer in phase.answers).most_common()),
        "latency_by_kind": {kind: latency_summary(values) for kind, values in sorted(by_kind.items())},
    }


def workload_summary(workload: Workload) -> dict[str, Any]:
    return {
        "seed": workload.seed,
        "orgs": len(workload.orgs),
        "unique_events": len(workload.events),
        "duplicate_deliveries": len(workload.deliveries) - len(workload.events),
        "deliveries": len(workload.deliveries),
        "workers": WORKERS,
        "event_types": dict(Counter(event.type for event in workload.events).most_common()),
    }


def function_output(log_path: Path) -> dict[str, int]:
    """What the function printed (Powertools JSON logs and EMF metric blobs), captured so the report stays readable."""
    lines = log_path.read_text().splitlines() if log_path.exists() else []
    return {
        "lines": len(lines),
        "warning_logs": sum('"level":"WARNING"' in line for line in lines),
        "error_logs": sum('"level":"ERROR"' in line for line in lines),
        "emf_blobs": sum(line.startswith('{"_aws"') for line in lines),
    }


def print_phases(phases: dict[str, dict[str, Any]]) -> None:
    header = f"{'phase':<26} {'deliveries':>10} {'wall s':>8} {'events/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    print(f"\n{header}\n{'-' * len(header)}")
    for figures in phases.values():
        print(
            f"{figures['name']:<26} {figures['deliveries']:>10} {figures['wall_s']:>8.2f} {figures['events_per_s']:>9.1f}"
            f" {figures['p50_ms']:>8.2f} {figures['p99_ms']:>8.2f} {figures['max_ms']:>8.2f}"
        )
    for figures in phases.values():
        print(f"\n{figures['name']}:")
        print("  outcomes: " + ", ".join(f"{name} {count}" for name, count in figures["outcomes"].items()))
        for kind, latency in figures["latency_by_kind"].items():
            print(f"  {kind:<30} n={latency['count']:<5} p50 {latency['p50_ms']:>7.2f} ms   p99 {latency['p99_ms']:>7.2f} ms")


def print_verification(verification: dict[str, Any]) -> None:
    print(f"\nverification against the sequential replay: {'PASS' if verification['pass'] else 'FAIL'}")
    for item in verification["checks"]:
        print(f"  [{'PASS' if item['pass'] else 'FAIL'}] {item['check']}: {item['value']} (expected {item['expected']})")
    print("  not compared: billing_state_* (the ordering guard's bookkeeping), updated_at (wall clock)")
    for diff in verification["diffs"][:10]:
        print(f"  org {diff['org_id']}: {json.dumps(diff['columns'], default=str)}")
        print(f"    claimed concurrently as: {'; '.join(diff['concurrent_history_in_claim_order'])}")


def print_report(results: dict[str, Any]) -> None:
    print_phases(results["phases"])
    output = results["function_output"]
    print(
        f"\nfunction stdout, captured: {output['lines']} lines ({output['warning_logs']} WARNING, {output['error_logs']} ERROR"
        f" logs, {output['emf_blobs']} EMF metric blobs)"
    )
    print_verification(results["verification"])


def write_results(results: dict[str, Any]) -> None:
    """Through a temporary file, so an interrupted run never leaves half a JSON behind."""
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    partial = RESULTS_PATH.with_suffix(".json.tmp")
    partial.write_text(json.dumps(results, indent=2, default=str) + "\n")
    partial.replace(RESULTS_PATH)


# --- the run --------------------------------------------------------------------------------------------------------


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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Exit 1 on a functional error: a delivery not answered 200, or a final state that differs from the replay."""
    args = parse_args(argv)
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
    write_results(results)
    print_report(results)
    print(f"\nwrote {RESULTS_PATH.relative_to(ROOT)}")
    return 0 if results["verification"]["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
