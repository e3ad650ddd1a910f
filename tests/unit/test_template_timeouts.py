"""Each function's Timeout is above the sum of the inner timeouts one request can wait through, so a slow backing
service is answered with the function's own 503/504 before Lambda kills it, and under API Gateway's 30 s, past which
the client gets API Gateway's own 503 whatever the function does.

One request waits at most (s): a secret read per secret on a cold container (the extension's
SECRETS_MANAGER_TIMEOUT_MILLIS each), the JWKS fetch (routes with a user), Postgres connect + one statement, then its
own service:

| function       | secrets | JWKS | Postgres | service                                              | sum  | Timeout |
|----------------|---------|------|----------|------------------------------------------------------|------|---------|
| agent_start    | 2       | 3    | 5 + 5    | SQS: 2 tries x (2 + 3) + 1 backoff                   | 26   | 29      |
| agent_event    | 3       | 3    | 5 + 5    | Realtime: 2 x 2 (waits for one other broadcast)      | 20   | 24      |
| agent_status   | 2       | 3    | 5 + 5    |                                                      | 15   | 18      |
| memory_write   | 2       | 3    | 5 + 5    | embeddings: 5 (one try)                              | 20   | 24      |
| memory_read    | 2       | 3    | 5 + 5    | embeddings: 5 (one try)                              | 20   | 24      |
| stripe_webhook | 3       |      | 5 + 5    | Stripe: 3 tries x 4 + 0.5 + 1 backoff                | 26.5 | 29      |
| traces         | 4       | 3    | 5 + 5    | ClickHouse: connect 3 + query 8                      | 28   | 29      |
"""

from collections.abc import Callable

import pytest

from agentmode.auth import JWKS_FETCH_TIMEOUT_SECONDS
from agentmode.settings import Settings
from tests.unit.template_model import FUNCTIONS, environment, secret_settings

API_GATEWAY_INTEGRATION_SECONDS = 30


def setting(function: str, name: str) -> float:
    """The function's value of a setting: its template environment, else the settings' default."""
    return float(environment(function).get(name.upper(), Settings.model_fields[name].default))


def sqs(function: str) -> float:
    # agent_start/queue_client.py: botocore connect 2 s + read 3 s, 2 attempts, standard-mode backoff of at most 1 s.
    return 2 * (2 + 3) + 1


def realtime(function: str) -> float:
    # agent_event/outbox.py: a publisher may first wait for another's broadcast, then sends its own.
    return 2 * setting(function, "realtime_timeout_seconds")


def embeddings(function: str) -> float:
    return setting(function, "embeddings_timeout_seconds")


def stripe(function: str) -> float:
    # stripe_webhook/stripe_api.py: max_network_retries=2; stripe-python sleeps at most 0.5 s, then 1 s, between tries.
    return 3 * setting(function, "stripe_timeout_seconds") + 0.5 + 1


def clickhouse(function: str) -> float:
    return setting(function, "clickhouse_connect_timeout_seconds") + setting(function, "clickhouse_query_timeout_seconds")


SERVICES: dict[str, list[Callable[[str], float]]] = {
    "AgentStartFunction": [sqs],
    "AgentEventFunction": [realtime],
    "AgentStatusFunction": [],
    "MemoryWriteFunction": [embeddings],
    "MemoryReadFunction": [embeddings],
    "StripeWebhookFunction": [stripe],
    "TracesFunction": [clickhouse],
}


def inner_timeouts(function: str) -> float:
    secrets = len(secret_settings(function)) * float(environment(function)["SECRETS_MANAGER_TIMEOUT_MILLIS"]) / 1000
    jwks = JWKS_FETCH_TIMEOUT_SECONDS if "SUPABASE_JWT_SECRET" in secret_settings(function) else 0
    postgres = setting(function, "db_connect_timeout_seconds") + setting(function, "db_statement_timeout_ms") / 1000
    return secrets + jwks + postgres + sum(service(function) for service in SERVICES[function])


def test_every_function_has_its_services_listed() -> None:
    assert set(SERVICES) == set(FUNCTIONS)


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_timeout_is_above_the_inner_timeouts_of_one_request(function: str) -> None:
    assert inner_timeouts(function) < FUNCTIONS[function]["Timeout"]


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_timeout_is_under_api_gateways_integration_limit(function: str) -> None:
    assert FUNCTIONS[function]["Timeout"] < API_GATEWAY_INTEGRATION_SECONDS
