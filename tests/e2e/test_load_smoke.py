"""bench.load in miniature over the session's local runner: no error, and the database agrees with every answer.

The same population, clients and checks as `python -m bench.load` (8 clients x 80 requests instead of 50 x 3,000),
so the load test cannot rot between benchmark runs.
"""

from typing import Any

import psycopg

from agentmode.clickhouse import ClickHouse
from agentmode.embeddings import embedder_for
from agentmode.settings import get_settings
from bench.load_checks import summarize, verify
from bench.load_population import ROUTES, LoadConfig, create_population
from bench.load_workload import run_load
from tests.factories import TEST_JWT_SECRET

SMOKE = LoadConfig(clients=8, requests=80, users=8, traces_per_project=3, spans_per_trace=11, timeout_seconds=15)


def test_a_small_mixed_load_has_no_error_and_the_database_agrees(
    live_server: str, admin: psycopg.Connection[Any], clickhouse: ClickHouse
) -> None:
    population = create_population(admin, clickhouse, SMOKE, TEST_JWT_SECRET, embedder_for(get_settings()).embed)
    result = run_load(live_server, population, SMOKE)
    summary = summarize(result)
    checks = verify(admin, population, result)

    assert summary["requests"] == SMOKE.requests
    assert (summary["errors"], summary["warmup_errors"]) == (0, []), summary["error_examples"]
    assert set(summary["routes"]) == set(ROUTES.values())
    assert [item.as_dict() for item in checks if not item.passed] == []
    acknowledged = summary["acknowledged"]
    assert min(acknowledged["sessions"], acknowledged["events"], acknowledged["memories"]) > 0
