"""A deployed function (ENVIRONMENT dev, staging or prod) started without a setting it cannot work without answers
503 and logs the setting's name, instead of quietly working another way (local and test keep their fallbacks)."""

import json
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

import agentmode.runner_queue as queue_client
from agentmode.clickhouse import ClickHouse
from tests import stripe_stub
from tests.conftest import reset_function_state
from tests.factories import User, create_session
from tests.functional.test_traces_list import list_traces
from tests.lambda_invoke import Result, invoke
from tests.log_capture import LogOutput
from tests.trace_data import create_project, simple_trace

WEBHOOK_SECRET = "whsec_test_secret_for_fail_fast"


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A container of the prod stage; each test removes the setting it is about."""
    monkeypatch.setenv("ENVIRONMENT", "prod")
    monkeypatch.setenv("TRACES_CURSOR_SECRET", "a-deployed-cursor-secret-of-some-length")
    reset_function_state()
    yield monkeypatch
    monkeypatch.undo()
    reset_function_state()


def assert_not_configured(result: Result, service: str) -> None:
    assert (result.status, result.body["error_code"]) == (503, "SERVICE_UNAVAILABLE")
    assert (result.body["details"]["service"], result.body["details"]["reason"]) == (service, "not configured")


def assert_logged(logs: LogOutput, setting: str) -> None:
    """An error line that says which setting is missing, in its message and as its `setting` key."""
    lines = [json.loads(line) for line in logs.text().splitlines() if line.startswith("{")]
    assert [line for line in lines if line["level"] == "ERROR" and line.get("setting") == setting and setting in line["message"]]


def status(user: User, session_id: uuid.UUID) -> Result:
    return invoke("GET", "/agent/status", headers=user.auth, query={"session_id": str(session_id)})


def test_traces_without_clickhouse_host_answer_503_instead_of_using_chdb(
    clickhouse: ClickHouse, admin: psycopg.Connection[Any], user: User, deployed: pytest.MonkeyPatch, logs: LogOutput
) -> None:
    project = create_project(admin, user.id)
    trace_id = simple_trace(clickhouse, project)
    deployed.setenv("CLICKHOUSE_HOST", "")
    reset_function_state()

    listed = list_traces(user, project)
    detail = invoke("GET", f"/v4/traces/{trace_id}", headers=user.auth, query={"project_id": str(project)})

    assert_not_configured(listed, "clickhouse")
    assert_not_configured(detail, "clickhouse")
    assert_logged(logs, "CLICKHOUSE_HOST")


@pytest.fixture
def stripe_api(deployed: pytest.MonkeyPatch) -> Iterator[stripe_stub.StripeApiStub]:
    stub = stripe_stub.StripeApiStub()
    stub.configure(deployed, WEBHOOK_SECRET)
    reset_function_state()
    yield stub
    stub.close()


def deliver_checkout(stub: stripe_stub.StripeApiStub, payload: dict[str, Any]) -> Result:
    raw = json.dumps(payload).encode()
    return invoke("POST", "/v4/stripe-webhook", headers={"stripe-signature": stripe_stub.sign(raw, WEBHOOK_SECRET)}, raw_body=raw)


def test_a_checkout_without_the_pro_price_answers_503_so_stripe_retries_and_applies_once_it_is_set(
    admin: psycopg.Connection[Any], stripe_api: stripe_stub.StripeApiStub, deployed: pytest.MonkeyPatch, logs: LogOutput
) -> None:
    org = admin.execute("INSERT INTO agentmode.orgs (name) VALUES ('Acme') RETURNING id").fetchone()[0]
    sub = f"sub_{uuid.uuid4().hex[:14]}"
    session = stripe_stub.checkout_session(f"cs_{uuid.uuid4().hex[:12]}", str(org), sub)
    stripe_api.add_checkout(session, stripe_stub.subscription(sub))
    payload = stripe_stub.event("checkout.session.completed", session, 1000)
    deployed.setenv("STRIPE_SUBSCRIPTION_PRICE_ID", "")
    reset_function_state()

    refused = deliver_checkout(stripe_api, payload)
    claimed = admin.execute("SELECT count(*) FROM agentmode.stripe_events WHERE id = %s", (payload["id"],)).fetchone()[0]
    deployed.setenv("STRIPE_SUBSCRIPTION_PRICE_ID", stripe_stub.PRICE_ID)
    reset_function_state()
    retried = deliver_checkout(stripe_api, payload)

    assert_not_configured(refused, "stripe_webhook")
    assert claimed == 0
    assert_logged(logs, "STRIPE_SUBSCRIPTION_PRICE_ID")
    assert (retried.status, retried.body["outcome"]) == (200, "applied")
    assert admin.execute("SELECT prem_status FROM agentmode.orgs WHERE id = %s", (org,)).fetchone()[0] == "pro"


def test_a_start_without_a_queue_answers_503_and_charges_nothing(
    admin: psycopg.Connection[Any], user: User, deployed: pytest.MonkeyPatch, logs: LogOutput
) -> None:
    deployed.delenv("AGENT_QUEUE_URL", raising=False)
    deployed.setattr(queue_client, "_queue", None)

    result = invoke("POST", "/agent/start", headers=user.auth, json_body={"goal": "Generate video ads for my SaaS product"})

    assert_not_configured(result, "agent_queue")
    assert admin.execute("SELECT count(*) FROM agentmode.agent_sessions WHERE user_id = %s", (user.id,)).fetchone()[0] == 0
    assert admin.execute("SELECT balance FROM agentmode.credit_balances WHERE user_id = %s", (user.id,)).fetchone()[0] == 100
    assert_logged(logs, "AGENT_QUEUE_URL")


def test_a_function_without_database_url_answers_503_instead_of_trying_a_local_server(
    admin: psycopg.Connection[Any], user: User, deployed: pytest.MonkeyPatch, logs: LogOutput
) -> None:
    session_id = create_session(admin, user.id)
    deployed.delenv("DATABASE_URL")
    deployed.delenv("DATABASE_URL_SECRET_ID", raising=False)
    reset_function_state()

    assert_not_configured(status(user, session_id), "database")
    assert_logged(logs, "DATABASE_URL")


def test_a_function_without_an_issuer_answers_503_instead_of_skipping_the_iss_check(
    admin: psycopg.Connection[Any], user: User, deployed: pytest.MonkeyPatch, logs: LogOutput
) -> None:
    session_id = create_session(admin, user.id)
    deployed.setenv("SUPABASE_URL", "")
    deployed.setenv("SUPABASE_JWT_ISSUER", "")
    reset_function_state()

    assert_not_configured(status(user, session_id), "auth")
    assert_logged(logs, "SUPABASE_URL")
