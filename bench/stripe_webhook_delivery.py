"""Delivering bench.stripe_webhook's events to the real handler: signed at delivery, from WORKERS warm containers at once
(the concurrent phase) or from one, oldest first (the replay)."""

import asyncio
import contextlib
import json
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from bench.errors import BenchError
from bench.stripe_webhook_config import FUNCTION_NAME, PATH, SECRET, WORKERS
from bench.stripe_webhook_workload import Delivery
from local.apigw_event import build_event
from local.lambda_runtime import Handler, LambdaContext
from tests import stripe_stub


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
