"""Seed 001 §8's "API calls: 1000 per hour" per user, on every authenticated route, and tokens of deleted users."""

import time
import uuid
from typing import Any

import psycopg
import pytest

import agentmode.memory as memory_module
from tests.factories import User, create_session
from tests.lambda_invoke import Result, invoke

PROJECT = str(uuid.uuid4())
TRACE = "0" * 32


def requests_of(session: uuid.UUID) -> list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]]:
    """(method, path, query, body) of every authenticated route, each a request the route would accept."""
    return [
        ("POST", "/agent/start", None, {"goal": "Generate video ads", "constraints": {"max_videos": 1}}),
        ("POST", "/agent/event", None, {"session_id": str(session), "action_type": "reasoning_update", "reasoning": "r"}),
        ("GET", "/agent/status", {"session_id": str(session)}, None),
        ("GET", "/agent/events", {"session_id": str(session)}, None),
        ("POST", "/agent/write-memory", None, {"content": "Prefers short hooks", "memory_type": "preference"}),
        ("GET", "/agent/read-memory", {"query": "hooks"}, None),
        ("GET", "/v4/traces", {"project_id": PROJECT}, None),
        ("GET", f"/v4/traces/{TRACE}", {"project_id": PROJECT}, None),
        ("GET", "/v4/meterics/project", {"project_id": PROJECT}, None),
    ]


ROUTE_NAMES = [f"{method} {path}" for method, path, _, _ in requests_of(uuid.UUID(int=0))]


def call(user: User, request: tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]) -> Result:
    method, path, query, body = request
    return invoke(method, path, headers=user.auth, query=query, json_body=body)


def calls_counted(admin: psycopg.Connection[Any], user: User) -> int:
    row = admin.execute("SELECT coalesce(sum(calls), 0) FROM agentmode.api_call_counts WHERE user_id = %s", (user.id,)).fetchone()
    return int(row[0])


def prefill(admin: psycopg.Connection[Any], user: User, calls: int, windows_ago: int = 0) -> None:
    admin.execute(
        "INSERT INTO agentmode.api_call_counts (user_id, window_start, calls)"
        " VALUES (%s, to_timestamp((floor(extract(epoch FROM clock_timestamp()) / 3600) - %s) * 3600), %s)",
        (user.id, windows_ago, calls),
    )


@pytest.fixture
def session(admin: psycopg.Connection[Any], user: User) -> uuid.UUID:
    return create_session(admin, user.id)


@pytest.mark.parametrize("index", range(len(ROUTE_NAMES)), ids=ROUTE_NAMES)
def test_every_authenticated_route_counts_one_call(
    admin: psycopg.Connection[Any], user: User, session: uuid.UUID, index: int
) -> None:
    result = call(user, requests_of(session)[index])
    assert result.status < 500
    assert calls_counted(admin, user) == 1


def test_refused_and_failed_requests_count_too(admin: psycopg.Connection[Any], user: User) -> None:
    assert invoke("GET", "/agent/status", headers=user.auth, query={"session_id": str(uuid.uuid4())}).status == 404
    assert invoke("GET", "/agent/status", headers=user.auth, query={"session_id": "not-a-uuid"}).status == 400
    assert calls_counted(admin, user) == 2


def test_the_thousandth_call_of_the_hour_is_served(admin: psycopg.Connection[Any], user: User, session: uuid.UUID) -> None:
    prefill(admin, user, 999)
    assert invoke("GET", "/agent/status", headers=user.auth, query={"session_id": str(session)}).status == 200


def test_the_1001st_call_of_the_hour_is_429_with_retry_after(
    admin: psycopg.Connection[Any], user: User, session: uuid.UUID
) -> None:
    prefill(admin, user, 1000)
    before = time.time()
    result = invoke("GET", "/agent/status", headers=user.auth, query={"session_id": str(session)})
    after = time.time()
    assert (result.status, result.body["error_code"]) == (429, "RATE_LIMIT_EXCEEDED")
    details = result.body["details"]
    assert (details["action"], details["limit"], details["window_seconds"]) == ("api_call", 1000, 3600)
    # The wait is to the next clock hour, as seen at some moment during the request (rounded up to whole ms).
    assert (3600 - after % 3600) * 1000 <= details["retry_after_ms"] <= (3600 - before % 3600) * 1000 + 1
    assert int(result.headers["retry-after"]) == -(-details["retry_after_ms"] // 1000)


def test_an_over_limit_call_changes_nothing(admin: psycopg.Connection[Any], user: User) -> None:
    prefill(admin, user, 1000)
    body = {"goal": "Generate video ads", "constraints": {"max_videos": 1}}
    assert invoke("POST", "/agent/start", headers=user.auth, json_body=body).status == 429
    assert admin.execute("SELECT count(*) FROM agentmode.agent_sessions WHERE user_id = %s", (user.id,)).fetchone()[0] == 0
    assert admin.execute("SELECT balance FROM agentmode.credit_balances WHERE user_id = %s", (user.id,)).fetchone()[0] == 100


def test_last_hours_calls_do_not_count_this_hour(admin: psycopg.Connection[Any], user: User, session: uuid.UUID) -> None:
    prefill(admin, user, 1000, windows_ago=1)
    assert invoke("GET", "/agent/status", headers=user.auth, query={"session_id": str(session)}).status == 200
    windows = admin.execute("SELECT count(*) FROM agentmode.api_call_counts WHERE user_id = %s", (user.id,)).fetchone()[0]
    assert windows == 1, "a user's past windows are dropped when a new one starts"


def test_users_are_limited_separately(admin: psycopg.Connection[Any], user: User, other_user: User) -> None:
    prefill(admin, other_user, 1000)
    other_session = create_session(admin, user.id)
    assert invoke("GET", "/agent/status", headers=user.auth, query={"session_id": str(other_session)}).status == 200


def test_the_limit_is_read_from_the_policy_table(admin: psycopg.Connection[Any], user: User, session: uuid.UUID) -> None:
    prefill(admin, user, 1000)
    admin.execute("UPDATE agentmode.rate_limit_policies SET limit_count = 2000 WHERE action = 'api_call'")
    try:
        assert invoke("GET", "/agent/status", headers=user.auth, query={"session_id": str(session)}).status == 200
    finally:
        admin.execute("UPDATE agentmode.rate_limit_policies SET limit_count = 1000 WHERE action = 'api_call'")


@pytest.mark.parametrize("index", range(len(ROUTE_NAMES)), ids=ROUTE_NAMES)
def test_a_deleted_users_still_valid_token_is_401_on_every_route(
    admin: psycopg.Connection[Any], user: User, session: uuid.UUID, index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = requests_of(session)[index]
    admin.execute("DELETE FROM auth.users WHERE id = %s", (user.id,))
    embedded: list[str] = []
    real = memory_module.embedder_for
    monkeypatch.setattr(memory_module, "embedder_for", lambda settings: embedded.append("embed") or real(settings))
    result = call(user, request)
    assert (result.status, result.body["error_code"], result.body["details"]) == (401, "UNAUTHORIZED", {"reason": "unknown user"})
    assert embedded == []
    assert calls_counted(admin, user) == 0
