"""bench.load's driver: the planned sequence of requests, the warm-up and the threaded run of the clients.

Callable on any running local runner and any database (`create_population` in bench.load_population, then `run_load`):
`python -m bench.load` starts its own stack, tests/e2e/test_load_smoke.py reuses the test session's `live_server`.
Every answer is checked as it arrives (bench.load_client: status, and the invariants one answer can show: a replay names
the first session, a page of events has no gap, a status is never behind an acknowledged event, a trace list shows only
the caller's project); bench.load_checks then compares the ledger (bench.load_ledger) with the database.
"""

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass

from bench.load_client import Client
from bench.load_http import Http
from bench.load_ledger import Ledger, Sample
from bench.load_population import (
    EVENT,
    EVENTS,
    METRICS,
    READ_MEMORY,
    ROUTES,
    START,
    STATUS,
    TRACE,
    TRACES,
    WRITE_MEMORY,
    LoadConfig,
    Population,
)


@dataclass
class RunResult:
    ledger: Ledger
    samples: list[Sample]
    warmup: list[Sample]
    wall_seconds: float
    clients: int
    planned: dict[str, int]


def plan_requests(config: LoadConfig) -> list[str]:
    """The fixed, seeded sequence of route kinds the clients take turns at (an empty route falls back to another)."""
    rng = random.Random(config.seed)
    kinds = list(config.mix)
    return rng.choices(kinds, weights=[config.mix[k] for k in kinds], k=config.requests)


def warm_up(base_url: str, ledger: Ledger, config: LoadConfig) -> list[Sample]:
    """One request of each route, untimed, so no container's first connection or first query lands in the figures.
    Its writes are acknowledged like any other and verified with the rest."""
    client = Client(Http(base_url, config.timeout_seconds), ledger, random.Random(config.seed - 1))
    for kind in (START, EVENT, STATUS, EVENTS, WRITE_MEMORY, READ_MEMORY, TRACES, TRACE, METRICS):
        client.act(kind)
    client.http.close()
    return client.samples


def run_load(base_url: str, population: Population, config: LoadConfig) -> RunResult:
    """`config.clients` threads, each with its own keep-alive connection, take the planned requests in turn until
    `config.requests` have been sent; any user's session may get events from any client."""
    ledger = Ledger(population)
    warmup = warm_up(base_url, ledger, config)
    plan = plan_requests(config)
    position, position_lock = iter(range(len(plan))), threading.Lock()
    clients = [
        Client(Http(base_url, config.timeout_seconds), ledger, random.Random(config.seed + n)) for n in range(config.clients)
    ]
    barrier = threading.Barrier(config.clients + 1)

    def work(client: Client) -> None:
        barrier.wait()
        while True:
            with position_lock:
                index = next(position, None)
            if index is None:
                break
            try:
                client.act(plan[index])
            except Exception as exc:  # noqa: BLE001 - a client bug is reported as an error, not a hung run
                client.samples.append(Sample(ROUTES[plan[index]], -1, 0.0, f"client: {type(exc).__name__}: {exc}"))
        client.http.close()

    threads = [threading.Thread(target=work, args=(client,), name=f"load-client-{n}") for n, client in enumerate(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    samples = [sample for client in clients for sample in client.samples]
    return RunResult(ledger, samples, warmup, wall, config.clients, dict(Counter(plan)))
