"""Postgres down: every route that needs it answers 503 SERVICE_UNAVAILABLE with a retry hint, well inside its timeout.

Down means refused (nothing listens), a black hole (the TCP connect succeeds, the server never speaks: a hung host or
a dropped path), or a warm container whose connection the server has since closed (a restart or failover).
"""

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from local.template_routes import load_routes
from tests import stripe_stub
from tests.factories import User, create_session
from tests.faults.conftest import Configure
from tests.faults.stubs import BlackHole, closed_port
from tests.faults.support import assert_unavailable, lambda_timeout, timed
from tests.lambda_invoke import Result, invoke

WEBHOOK_SECRET = "whsec_faults_postgres_down"
ANY_SESSION = "6f1c2a3e-8b4d-4e7f-9a10-0d3e5b7c9a21"
ANY_PROJECT = "9c4f7e2a-1d3b-4a5c-8e6f-3b2d1a0c9e84"
ANY_TRACE = "0123456789abcdef0123456789abcdef"
ANY_ORG = "2b9e4d1c-7a3f-4c2e-8d5b-1f0a9c8e7d61"
ANY_USER = "8d0f3477-5d17-4d3f-b5e8-69a1db4e469f"
ORG = f"/opsboard/orgs/{ANY_ORG}"
PROJECT = f"/opsboard/projects/{ANY_PROJECT}"


@dataclass(frozen=True)
class Call:
    """A request that passes validation, so the only thing left to fail is the database."""

    method: str
    route: str
    path: str
    query: dict[str, str] | None = None
    body: dict[str, Any] | None = None

    def send(self, user: User, **headers: str) -> Result:
        return invoke(self.method, self.path, headers={**user.auth, **headers}, query=self.query, json_body=self.body)


JWT_CALLS = [
    Call("POST", "/agent/start", "/agent/start", body={"goal": "Generate video ads for my SaaS product"}),
    Call(
        "POST", "/agent/event", "/agent/event", body={"session_id": ANY_SESSION, "action_type": "tool_called", "tool_name": "s"}
    ),
    Call("GET", "/agent/status", "/agent/status", query={"session_id": ANY_SESSION}),
    Call("GET", "/agent/events", "/agent/events", query={"session_id": ANY_SESSION}),
    Call("POST", "/agent/write-memory", "/agent/write-memory", body={"content": "Hooks under 3 s.", "memory_type": "preference"}),
    Call("GET", "/agent/read-memory", "/agent/read-memory", query={"query": "hooks"}),
    Call("POST", "/agent/respond", "/agent/respond", body={"session_id": ANY_SESSION, "question_seq": 1, "value": "a"}),
    Call("POST", "/agent/cancel", "/agent/cancel", body={"session_id": ANY_SESSION}),
    Call("GET", "/v4/traces", "/v4/traces", query={"project_id": ANY_PROJECT}),
    Call("GET", "/v4/traces/{trace_id}", f"/v4/traces/{ANY_TRACE}", query={"project_id": ANY_PROJECT}),
    Call("GET", "/v4/meterics/project", "/v4/meterics/project", query={"project_id": ANY_PROJECT}),
    Call("GET", "/v4/metrics/project", "/v4/metrics/project", query={"project_id": ANY_PROJECT}),
    Call("GET", "/opsboard/users/me", "/opsboard/users/me"),
    Call("PUT", "/opsboard/users/me", "/opsboard/users/me", body={"full_name": "Ada"}),
    Call("POST", "/opsboard/users/update", "/opsboard/users/update", body={"full_name": "Ada"}),
    Call("PUT", "/opsboard/users/me/survey-complete", "/opsboard/users/me/survey-complete"),
    Call("POST", "/opsboard/users/complete_survey", "/opsboard/users/complete_survey"),
    Call("GET", "/opsboard/projects", "/opsboard/projects"),
    Call("POST", "/opsboard/projects", "/opsboard/projects", body={"name": "Launch", "org_id": ANY_ORG}),
    Call("GET", "/opsboard/projects/{project_id}", PROJECT),
    Call("PUT", "/opsboard/projects/{project_id}", PROJECT, body={"name": "Renamed"}),
    Call("POST", "/opsboard/projects/{project_id}/update", f"{PROJECT}/update", body={"name": "Renamed"}),
    Call("DELETE", "/opsboard/projects/{project_id}", PROJECT),
    Call("POST", "/opsboard/projects/{project_id}/delete", f"{PROJECT}/delete"),
    Call("POST", "/opsboard/projects/{project_id}/regenerate-key", f"{PROJECT}/regenerate-key"),
    Call("GET", "/opsboard/orgs", "/opsboard/orgs"),
    Call("POST", "/opsboard/orgs", "/opsboard/orgs", body={"name": "Team"}),
    Call("POST", "/opsboard/orgs/create", "/opsboard/orgs/create", body={"name": "Team"}),
    Call("GET", "/opsboard/orgs/invites", "/opsboard/orgs/invites"),
    Call("GET", "/opsboard/orgs/{org_id}", ORG),
    Call("PUT", "/opsboard/orgs/{org_id}", ORG, body={"name": "Team"}),
    Call("POST", "/opsboard/orgs/{org_id}/update", f"{ORG}/update", body={"name": "Team"}),
    Call("DELETE", "/opsboard/orgs/{org_id}", ORG),
    Call("POST", "/opsboard/orgs/{org_id}/invite", f"{ORG}/invite", body={"email": "new@example.test"}),
    Call("GET", "/opsboard/orgs/{org_id}/invites", f"{ORG}/invites"),
    Call("DELETE", "/opsboard/orgs/{org_id}/invites/{email}", f"{ORG}/invites/new@example.test"),
    Call("POST", "/opsboard/orgs/{org_id}/accept-invite", f"{ORG}/accept-invite"),
    Call("POST", "/opsboard/orgs/{org_id}/accept", f"{ORG}/accept"),
    Call("POST", "/opsboard/orgs/{org_id}/decline-invite", f"{ORG}/decline-invite"),
    Call("POST", "/opsboard/orgs/{org_id}/leave", f"{ORG}/leave"),
    Call("POST", "/opsboard/orgs/{org_id}/remove-member", f"{ORG}/remove-member", body={"user_id": ANY_USER}),
    Call("POST", "/opsboard/orgs/{org_id}/members/remove", f"{ORG}/members/remove", body={"user_id": ANY_USER}),
    Call("POST", "/opsboard/orgs/{org_id}/change-role", f"{ORG}/change-role", body={"user_id": ANY_USER, "role": "admin"}),
    Call("POST", "/opsboard/orgs/{org_id}/members/update", f"{ORG}/members/update", body={"user_id": ANY_USER, "role": "admin"}),
    Call("POST", "/opsboard/orgs/{org_id}/create-checkout-session", f"{ORG}/create-checkout-session", body={}),
    Call("POST", "/opsboard/orgs/{org_id}/validate-discount-code", f"{ORG}/validate-discount-code", body={"discount_code": "X"}),
    Call("POST", "/opsboard/orgs/{org_id}/cancel-subscription", f"{ORG}/cancel-subscription", body={"subscription_id": "sub_1"}),
    Call("POST", "/opsboard/orgs/{org_id}/reactivate-subscription", f"{ORG}/reactivate-subscription"),
    Call("POST", "/opsboard/orgs/{org_id}/create-free-subscription", f"{ORG}/create-free-subscription", body={}),
    Call("POST", "/opsboard/orgs/{org_id}/update-subscription", f"{ORG}/update-subscription", body={}),
    Call("POST", "/opsboard/orgs/{org_id}/customer-portal", f"{ORG}/customer-portal"),
    Call("GET", "/opsboard/orgs/{org_id}/subscription-detail", f"{ORG}/subscription-detail"),
    Call("GET", "/opsboard/orgs/{org_id}/stripe-pricing", f"{ORG}/stripe-pricing"),
    Call("GET", "/opsboard/orgs/{org_id}/billing/dashboard", f"{ORG}/billing/dashboard"),
    Call("GET", "/opsboard/orgs/{org_id}/preview-member-cost", f"{ORG}/preview-member-cost"),
]
# The tightest Timeout (agent_status, 6 s), a two-transaction route, traces, and an invite (whose e-mail is sent inside
# its transaction): a black hole costs a connect timeout each.
HUNG_CALLS = [JWT_CALLS[i] for i in (2, 4, 6)] + [call for call in JWT_CALLS if call.route.endswith("/invite")]
# libpq's minimum: a connect_timeout of 1 is taken as 2 seconds.
CONNECT_TIMEOUT = 2
NOT_JWT = {"POST /v4/stripe-webhook"}


def ids(call: Call) -> str:
    return f"{call.method} {call.route}"


def signed_delivery() -> Result:
    payload = stripe_stub.event("invoice.created", {"id": "in_test", "object": "invoice"})
    raw = json.dumps(payload).encode()
    return invoke("POST", "/v4/stripe-webhook", headers={"stripe-signature": stripe_stub.sign(raw, WEBHOOK_SECRET)}, raw_body=raw)


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()


def test_every_jwt_route_of_the_template_is_covered() -> None:
    served = {route.route_key for route in load_routes()}
    assert served - NOT_JWT == {ids(call) for call in JWT_CALLS}


@pytest.mark.parametrize("call", JWT_CALLS, ids=ids)
def test_refused_connection_is_503_with_retry_after(call: Call, user: User, configure: Configure) -> None:
    configure(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed_port()}/postgres", DB_CONNECT_TIMEOUT_SECONDS="5")
    result, elapsed = timed(lambda: call.send(user))
    details = assert_unavailable(result, "database")
    assert details["reason"] == "connect failed"
    assert "127.0.0.1" not in str(result.body)
    assert elapsed < 2.0  # a refusal is answered at once, not after the 5 s connect timeout


@pytest.mark.parametrize("call", HUNG_CALLS, ids=ids)
def test_hung_database_is_503_after_the_connect_timeout(
    call: Call, user: User, configure: Configure, black_hole: BlackHole
) -> None:
    configure(
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{black_hole.port}/postgres",
        DB_CONNECT_TIMEOUT_SECONDS=str(CONNECT_TIMEOUT),
    )
    result, elapsed = timed(lambda: call.send(user))
    assert_unavailable(result, "database")
    assert CONNECT_TIMEOUT - 0.1 <= elapsed < CONNECT_TIMEOUT + 1.0
    assert elapsed < lambda_timeout(call.method, call.path) / 2


def test_stripe_delivery_with_the_database_down_is_503_so_stripe_retries(configure: Configure) -> None:
    configure(
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed_port()}/postgres",
        DB_CONNECT_TIMEOUT_SECONDS="5",
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    result, elapsed = timed(signed_delivery)
    assert_unavailable(result, "database")
    assert elapsed < 2.0


def test_connect_timeout_bounds_the_whole_connect_when_the_host_has_two_addresses(
    user: User, configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = BlackHole("127.0.0.1")
    second = BlackHole("127.0.0.2", first.port)
    resolve = socket.getaddrinfo

    def two_addresses(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "pooler.faults.test":
            return resolve(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, int(port))) for a in ("127.0.0.1", "127.0.0.2")]

    monkeypatch.setattr(socket, "getaddrinfo", two_addresses)
    configure(
        DATABASE_URL=f"postgresql://postgres@pooler.faults.test:{first.port}/postgres",
        DB_CONNECT_TIMEOUT_SECONDS=str(CONNECT_TIMEOUT),
    )
    try:
        result, elapsed = timed(lambda: JWT_CALLS[2].send(user))
    finally:
        first.close()
        second.close()
    assert_unavailable(result, "database")
    assert first.accepted == 1
    assert elapsed < CONNECT_TIMEOUT + 1.0


def terminate_function_connections(admin: psycopg.Connection[Any]) -> int:
    """What a Postgres restart or failover does to a warm container's connection."""
    row = admin.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE application_name = 'agentmode' AND pid <> pg_backend_pid()"
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_connection_closed_by_a_restart_is_replaced_without_failing_the_request(
    admin: psycopg.Connection[Any], user: User, configure: Configure
) -> None:
    configure()
    session = create_session(admin, user.id)
    status = Call("GET", "/agent/status", "/agent/status", query={"session_id": str(session)})
    assert status.send(user).status == 200
    assert terminate_function_connections(admin) >= 1
    assert status.send(user).status == 200
    assert status.send(user).status == 200


def test_a_restart_between_two_events_loses_and_duplicates_nothing(
    admin: psycopg.Connection[Any], user: User, configure: Configure
) -> None:
    configure()
    session = create_session(admin, user.id)
    event = Call(
        "POST", "/agent/event", "/agent/event", body={"session_id": str(session), "action_type": "tool_called", "tool_name": "s"}
    )
    assert event.send(user).body["seq"] == 1
    assert terminate_function_connections(admin) >= 1
    assert event.send(user).body["seq"] == 2
    assert event.send(user).body["seq"] == 3
    seqs = admin.execute(
        "SELECT seq FROM agentmode.agent_execution_logs WHERE session_id = %s ORDER BY seq", (session,)
    ).fetchall()
    assert [row[0] for row in seqs] == [1, 2, 3]


def test_database_outage_leaves_no_cached_broken_connection(
    admin: psycopg.Connection[Any], database_url: str, user: User, configure: Configure
) -> None:
    """Down, then back: the first request after recovery succeeds (no stale failure is replayed)."""
    configure(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed_port()}/postgres", DB_CONNECT_TIMEOUT_SECONDS="1")
    session = create_session(admin, user.id)
    status = Call("GET", "/agent/status", "/agent/status", query={"session_id": str(session)})
    assert_unavailable(status.send(user), "database")
    configure(DATABASE_URL=database_url)
    assert status.send(user).status == 200


def test_a_stripe_delivery_on_a_connection_closed_by_a_restart_is_answered(
    admin: psycopg.Connection[Any], configure: Configure
) -> None:
    configure(STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)
    assert signed_delivery().status == 200
    assert terminate_function_connections(admin) >= 1
    assert signed_delivery().status == 200
