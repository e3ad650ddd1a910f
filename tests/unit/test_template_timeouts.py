"""Each function's Timeout is above the sum of the inner timeouts one request can wait through, so a slow backing
service is answered with the function's own 503/504 before Lambda kills it, and under API Gateway's 30 s, past which
the client gets API Gateway's own 503 whatever the function does.

One request waits at most (s): a secret read per secret on a cold container (the extension's
SECRETS_MANAGER_TIMEOUT_MILLIS each), the JWKS fetch (routes with a user), Postgres connect + one statement, then its
own service:

| function       | secrets | JWKS | Postgres | service                                              | sum  | Timeout |
|----------------|---------|------|----------|------------------------------------------------------|------|---------|
| agent_start    | 3       | 3    | 5 + 5    | SQS: 2 tries x (2 + 3) + 1 backoff                   | 27   | 29      |
| agent_event    | 3       | 3    | 5 + 5    | (Realtime: realtime.send inside the transaction)     | 16   | 24      |
| agent_status   | 3       | 3    | 5 + 5    |                                                      | 16   | 18      |
| agent_control  | 2       | 3    | 5 + 5    | SQS: 2 tries x (2 + 3) + 1 backoff                   | 26   | 29      |
| memory_write   | 3       | 3    | 5 + 5    | embeddings: 5 (one try)                              | 21   | 24      |
| memory_read    | 3       | 3    | 5 + 5    | embeddings: 5 (one try)                              | 21   | 24      |
| stripe_webhook | 3       |      | 5 + 5    | Stripe: 3 tries x 4 + 0.5 + 1 backoff                | 26.5 | 29      |
| traces         | 4       | 3    | 5 + 5    | ClickHouse: connect 3 + query 8                      | 28   | 29      |
| opsboard_users | 2       | 3    | 5 + 5    |                                                      | 15   | 18      |
| opsboard_projects | 3    | 3    | 5 + 5    | ClickHouse (the counts): connect 1 + query 2         | 19   | 20      |
| opsboard_orgs  | 4       | 3    | 5 + 5    | invite mail: connect 3 + read 3; or seats: 2 x 3     | 23   | 24      |
| opsboard_billing | 3     | 3    | 5 + 5    | Stripe: up to 7 calls x 1.5, no retry                | 26.5 | 29      |

seat_sync is no API route: it starts no organization in its last RESERVE_SECONDS, which cover one organization's sync
(2 Stripe calls x 3 tries x 5 s + 1.5 s backoff, and a statement), plus its secrets and Postgres. run_sweeper likewise
starts no session in its last RESERVE_SECONDS, which cover one session's transaction and SQS send.
"""

import sys
from collections.abc import Callable

import pytest

from agentmode.auth import JWKS_FETCH_TIMEOUT_SECONDS
from agentmode.aws_api import RETRY_BACKOFF_SECONDS
from agentmode.settings import Settings
from local.lambda_runtime import load_handler
from local.stack import ROOT
from tests.unit.template_model import FUNCTIONS, environment, secret_settings

API_GATEWAY_INTEGRATION_SECONDS = 30


def setting(function: str, name: str) -> float:
    """The function's value of a setting: its template environment, else the settings' default."""
    return float(environment(function).get(name.upper(), Settings.model_fields[name].default))


def sqs(function: str) -> float:
    # agentmode/runner_queue.py: connect 2 s + read 3 s, 2 attempts, agentmode.aws_api's backoff of 0.05 s between them.
    return 2 * (2 + 3) + RETRY_BACKOFF_SECONDS


def embeddings(function: str) -> float:
    return setting(function, "embeddings_timeout_seconds")


def stripe(function: str) -> float:
    # stripe_webhook/stripe_api.py: max_network_retries=2; stripe-python sleeps at most 0.5 s, then 1 s, between tries.
    return 3 * setting(function, "stripe_timeout_seconds") + 0.5 + 1


def billing_stripe(function: str) -> float:
    from opsboard_billing.stripe_errors import CHECKOUT_STRIPE_CALLS, STRIPE_RETRIES

    return CHECKOUT_STRIPE_CALLS * (STRIPE_RETRIES + 1) * setting(function, "stripe_timeout_seconds")


def invite_mail_or_seats(function: str) -> float:
    # The invite path calls Supabase Auth; accept/remove/leave send the seats (retrieve + update, no retry).
    return max(supabase_auth(function), 2 * setting(function, "stripe_timeout_seconds"))


def seat_sweep(function: str) -> float:
    load_handler(ROOT / "functions" / "seat_sync")
    reserve: float = sys.modules["lambda_seat_sync_app"].RESERVE_SECONDS
    assert reserve >= 2 * 3 * setting(function, "stripe_timeout_seconds") + 1.5
    return reserve


def run_sweep(function: str) -> float:
    # One session: its transaction and the runner's message; none is started within the reserve.
    load_handler(ROOT / "functions" / "run_sweeper")
    reserve: float = sys.modules["lambda_run_sweeper_app"].RESERVE_SECONDS
    assert reserve >= setting(function, "db_statement_timeout_ms") / 1000 + sqs(function)
    return reserve


def supabase_auth(function: str) -> float:
    # opsboard_orgs/invite_mail.py: one httpx request, no retry; httpx applies the timeout to connect and read each.
    return 2 * setting(function, "supabase_auth_timeout_seconds")


def clickhouse(function: str) -> float:
    return setting(function, "clickhouse_connect_timeout_seconds") + setting(function, "clickhouse_query_timeout_seconds")


SCHEDULED = {name for name, f in FUNCTIONS.items() if any(e["Type"] == "ScheduleV2" for e in f["Events"].values())}

SERVICES: dict[str, list[Callable[[str], float]]] = {
    "AgentStartFunction": [sqs],
    "AgentEventFunction": [],
    "AgentStatusFunction": [],
    "MemoryWriteFunction": [embeddings],
    "MemoryReadFunction": [embeddings],
    "StripeWebhookFunction": [stripe],
    "TracesFunction": [clickhouse],
    "OpsboardUsersFunction": [],
    "OpsboardProjectsFunction": [clickhouse],
    "OpsboardOrgsFunction": [invite_mail_or_seats],
    "OpsboardBillingFunction": [billing_stripe],
    "SeatSyncFunction": [seat_sweep],
    "AgentControlFunction": [sqs],
    "RunSweeperFunction": [run_sweep],
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


@pytest.mark.parametrize("function", sorted(set(FUNCTIONS) - SCHEDULED))
def test_timeout_is_under_api_gateways_integration_limit(function: str) -> None:
    assert FUNCTIONS[function]["Timeout"] < API_GATEWAY_INTEGRATION_SECONDS
