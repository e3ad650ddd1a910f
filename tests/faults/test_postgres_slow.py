"""Postgres slow: a statement blocked past DB_STATEMENT_TIMEOUT_MS is cancelled and answers 503, writing nothing.

Another connection holds a lock in an open transaction (a row lock for writes, ACCESS EXCLUSIVE for reads), the
request is made, then the lock is released and the same request must succeed as if the first had never happened.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from agentmode.clickhouse import ClickHouse
from tests.factories import User, create_session
from tests.faults.conftest import Configure
from tests.faults.stubs import ScriptedServer, json_reply
from tests.faults.support import assert_unavailable, count, rate_limit_hits, timed
from tests.http_stub import openai_embeddings
from tests.lambda_invoke import Result, invoke
from tests.opsboard import personal_org
from tests.stripe_billing_stub import API_KEY, APP_URL, PRICE_ID, StripeBillingStub
from tests.supabase_auth_stub import SupabaseAuthStub
from tests.trace_data import create_project, simple_trace

STATEMENT_TIMEOUT_MS = 200
VECTOR = [0.02] * 1024


@pytest.fixture
def slow_database(configure: Configure, embeddings_api: ScriptedServer) -> None:
    """A short statement timeout, and embeddings from a loopback OpenAI-compatible API (no model to load)."""
    configure(
        DB_STATEMENT_TIMEOUT_MS=str(STATEMENT_TIMEOUT_MS),
        EMBEDDINGS_PROVIDER="openai",
        OPENAI_BASE_URL=embeddings_api.url,
        OPENAI_API_KEY="sk-faults",
    )


@pytest.fixture(scope="module")
def embeddings_api() -> Iterator[ScriptedServer]:
    server = ScriptedServer(lambda request, index: json_reply(openai_embeddings(VECTOR)))
    yield server
    server.close()


@contextmanager
def holding(database_url: str, *statements: tuple[str, tuple[Any, ...]]) -> Iterator[None]:
    """Runs the statements in a transaction on another connection and keeps it open (its locks held) until the exit."""
    with psycopg.connect(database_url) as holder:
        for sql, params in statements:
            holder.execute(sql, params)
        try:
            yield
        finally:
            holder.rollback()


def assert_cancelled(result: Result, elapsed: float) -> None:
    details = assert_unavailable(result, "database")
    assert details["reason"] == "statement timeout"
    assert STATEMENT_TIMEOUT_MS / 1000 <= elapsed < STATEMENT_TIMEOUT_MS / 1000 + 1.0


def send_event(user: User, session: uuid.UUID) -> Result:
    body = {"session_id": str(session), "action_type": "step_started", "step_name": "Analyze brand memory"}
    return invoke("POST", "/agent/event", headers=user.auth, json_body=body)


def test_event_blocked_on_its_session_row_is_503_and_logs_nothing_then_succeeds(
    admin: psycopg.Connection[Any], database_url: str, user: User, slow_database: None
) -> None:
    session = create_session(admin, user.id)
    with holding(database_url, ("SELECT 1 FROM agentmode.agent_sessions WHERE id = %s FOR UPDATE", (session,))):
        result, elapsed = timed(lambda: send_event(user, session))
    assert_cancelled(result, elapsed)
    assert count(admin, "SELECT count(*) FROM agentmode.agent_execution_logs WHERE session_id = %s", session) == 0
    assert count(admin, "SELECT last_seq FROM agentmode.agent_sessions WHERE id = %s", session) == 0
    retried = send_event(user, session)
    assert (retried.status, retried.body["seq"]) == (200, 1)


def start(user: User, key: str) -> Result:
    body = {"goal": "Generate video ads for my SaaS product", "constraints": {"max_videos": 2}}
    return invoke("POST", "/agent/start", headers={**user.auth, "Idempotency-Key": key}, json_body=body)


def test_start_blocked_on_the_credit_balance_is_503_and_charges_nothing_then_succeeds(
    admin: psycopg.Connection[Any], database_url: str, user: User, slow_database: None
) -> None:
    with holding(database_url, ("SELECT 1 FROM agentmode.credit_balances WHERE user_id = %s FOR UPDATE", (user.id,))):
        result, elapsed = timed(lambda: start(user, "slow-1"))
    assert_cancelled(result, elapsed)
    assert count(admin, "SELECT count(*) FROM agentmode.agent_sessions WHERE user_id = %s", user.id) == 0
    assert count(admin, "SELECT balance FROM agentmode.credit_balances WHERE user_id = %s", user.id) == 100
    assert rate_limit_hits(admin, user.id, "agent_start") == 0
    retried = start(user, "slow-1")
    assert retried.status == 201
    assert count(admin, "SELECT balance FROM agentmode.credit_balances WHERE user_id = %s", user.id) == 98
    assert rate_limit_hits(admin, user.id, "agent_start") == 1


def write_memory(user: User) -> Result:
    body = {"content": "Prefers hooks under 3 seconds.", "memory_type": "preference"}
    return invoke("POST", "/agent/write-memory", headers=user.auth, json_body=body)


def test_memory_write_blocked_on_the_table_is_503_and_stores_and_counts_nothing_then_succeeds(
    admin: psycopg.Connection[Any], database_url: str, user: User, slow_database: None
) -> None:
    with holding(database_url, ("LOCK TABLE agentmode.agent_memory IN ACCESS EXCLUSIVE MODE", ())):
        result, elapsed = timed(lambda: write_memory(user))
    assert_cancelled(result, elapsed)
    assert (
        count(admin, "SELECT count(*) FROM agentmode.agent_memory WHERE user_id = %s AND memory_type = 'preference'", user.id)
        == 0
    )
    assert rate_limit_hits(admin, user.id, "memory_write") == 0
    assert write_memory(user).status == 201
    assert rate_limit_hits(admin, user.id, "memory_write") == 1


def test_status_read_blocked_on_the_sessions_table_is_503_then_succeeds(
    admin: psycopg.Connection[Any], database_url: str, user: User, slow_database: None
) -> None:
    session = create_session(admin, user.id)

    def status() -> Result:
        return invoke("GET", "/agent/status", headers=user.auth, query={"session_id": str(session)})

    with holding(database_url, ("LOCK TABLE agentmode.agent_sessions IN ACCESS EXCLUSIVE MODE", ())):
        result, elapsed = timed(status)
    assert_cancelled(result, elapsed)
    assert status().status == 200


def test_events_read_blocked_on_the_log_table_is_503_then_succeeds(
    admin: psycopg.Connection[Any], database_url: str, user: User, slow_database: None
) -> None:
    session = create_session(admin, user.id)
    assert send_event(user, session).status == 200

    def events() -> Result:
        return invoke("GET", "/agent/events", headers=user.auth, query={"session_id": str(session)})

    with holding(database_url, ("LOCK TABLE agentmode.agent_execution_logs IN ACCESS EXCLUSIVE MODE", ())):
        result, elapsed = timed(events)
    assert_cancelled(result, elapsed)
    assert [event["seq"] for event in events().body["events"]] == [1]


def test_memory_read_blocked_on_the_table_is_503_and_counts_nothing_then_succeeds(
    admin: psycopg.Connection[Any], database_url: str, user: User, slow_database: None
) -> None:
    def read() -> Result:
        return invoke("GET", "/agent/read-memory", headers=user.auth, query={"query": "brand voice"})

    with holding(database_url, ("LOCK TABLE agentmode.agent_memory IN ACCESS EXCLUSIVE MODE", ())):
        result, elapsed = timed(read)
    assert_cancelled(result, elapsed)
    assert rate_limit_hits(admin, user.id, "memory_read") == 0
    assert read().status == 200
    assert rate_limit_hits(admin, user.id, "memory_read") == 1


def test_trace_list_blocked_on_the_projects_table_is_503_then_succeeds(
    admin: psycopg.Connection[Any], clickhouse: ClickHouse, database_url: str, user: User, slow_database: None
) -> None:
    project = create_project(admin, user.id)
    trace_id = simple_trace(clickhouse, project)

    def traces() -> Result:
        return invoke("GET", "/v4/traces", headers=user.auth, query={"project_id": str(project)})

    with holding(database_url, ("LOCK TABLE agentmode.projects IN ACCESS EXCLUSIVE MODE", ())):
        result, elapsed = timed(traces)
    assert_cancelled(result, elapsed)
    assert [row["trace_id"] for row in traces().body["traces"]] == [trace_id]


def scalar(admin: psycopg.Connection[Any], sql: str, *params: Any) -> Any:
    row = admin.execute(sql.encode(), params).fetchone()
    assert row is not None
    return row[0]


def update_profile(user: User, name: str) -> Result:
    return invoke("PUT", "/opsboard/users/me", headers=user.auth, json_body={"full_name": name})


def test_profile_update_blocked_on_its_row_is_503_and_changes_nothing_then_succeeds(
    admin: psycopg.Connection[Any], database_url: str, user: User, slow_database: None
) -> None:
    def full_name() -> Any:
        return scalar(admin, "SELECT full_name FROM agentmode.user_profiles WHERE user_id = %s", user.id)

    unchanged = full_name()
    with holding(database_url, ("SELECT 1 FROM agentmode.user_profiles WHERE user_id = %s FOR UPDATE", (user.id,))):
        result, elapsed = timed(lambda: update_profile(user, "Blocked"))
    assert_cancelled(result, elapsed)
    assert full_name() == unchanged
    assert update_profile(user, "Unblocked").status == 200
    assert full_name() == "Unblocked"


def test_project_list_blocked_on_the_projects_table_is_503_then_succeeds(
    admin: psycopg.Connection[Any], user: User, database_url: str, slow_database: None
) -> None:
    def projects() -> Result:
        return invoke("GET", "/opsboard/projects", headers=user.auth)

    with holding(database_url, ("LOCK TABLE agentmode.projects IN ACCESS EXCLUSIVE MODE", ())):
        result, elapsed = timed(projects)
    assert_cancelled(result, elapsed)
    assert [project["name"] for project in projects().body] == ["Default Project"]


@pytest.fixture
def auth_api(configure: Configure) -> Iterator[SupabaseAuthStub]:
    """Supabase Auth's invite endpoint on loopback, so an invite that got through would be seen sending its mail."""
    stub = SupabaseAuthStub()
    configure(SUPABASE_URL=stub.url, SUPABASE_SERVICE_ROLE_KEY="service-role-key-for-faults")
    yield stub
    stub.close()


def invite(user: User, org: uuid.UUID, email: str) -> Result:
    return invoke("POST", f"/opsboard/orgs/{org}/invite", headers=user.auth, json_body={"email": email})


def test_invite_blocked_on_its_organization_is_503_and_records_and_mails_nothing_then_succeeds(
    admin: psycopg.Connection[Any], database_url: str, user: User, slow_database: None, auth_api: SupabaseAuthStub
) -> None:
    org = personal_org(admin, user)
    address = f"new-{uuid.uuid4().hex[:12]}@example.test"
    with holding(database_url, ("SELECT 1 FROM agentmode.orgs WHERE id = %s FOR UPDATE", (org,))):
        result, elapsed = timed(lambda: invite(user, org, address))
    assert_cancelled(result, elapsed)
    assert count(admin, "SELECT count(*) FROM agentmode.org_invites WHERE org_id = %s", org) == 0
    assert rate_limit_hits(admin, user.id, "org_invite") == 0
    assert auth_api.invited == []
    assert invite(user, org, address).status == 201
    assert auth_api.invited == [address]
    assert rate_limit_hits(admin, user.id, "org_invite") == 1


@pytest.fixture
def stripe_api(configure: Configure) -> Iterator[StripeBillingStub]:
    stub = StripeBillingStub()
    configure(STRIPE_SECRET_KEY=API_KEY, STRIPE_API_BASE=stub.url, STRIPE_SUBSCRIPTION_PRICE_ID=PRICE_ID, APP_URL=APP_URL)
    yield stub
    stub.close()


def test_checkout_blocked_on_its_organization_is_503_and_calls_no_stripe_then_succeeds(
    admin: psycopg.Connection[Any], database_url: str, user: User, slow_database: None, stripe_api: StripeBillingStub
) -> None:
    org = personal_org(admin, user)

    def checkout() -> Result:
        return invoke("POST", f"/opsboard/orgs/{org}/create-checkout-session", headers=user.auth, json_body={})

    with holding(database_url, ("SELECT 1 FROM agentmode.orgs WHERE id = %s FOR UPDATE", (org,))):
        result, elapsed = timed(checkout)
    assert_cancelled(result, elapsed)
    assert stripe_api.requests == []
    assert scalar(admin, "SELECT checkout_session_id FROM agentmode.orgs WHERE id = %s", org) is None
    retried = checkout()
    assert retried.status == 200, retried.body
    assert scalar(admin, "SELECT checkout_session_id FROM agentmode.orgs WHERE id = %s", org) == retried.body["session_id"]
    assert len(stripe_api.session_creates) == 1
