"""GET /agent/status and GET /agent/events through the agent_status handler (seed 001 §3 and the catch-up feed)."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from tests.factories import User, create_session
from tests.lambda_invoke import invoke
from tests.runner_support import QUESTION, ask, respond, runner_for


def status(user: User, session_id: uuid.UUID | str) -> Any:
    return invoke("GET", "/agent/status", headers=user.auth, query={"session_id": str(session_id)})


def post_event(user: User, session_id: uuid.UUID, **fields: Any) -> None:
    result = invoke("POST", "/agent/event", headers=user.auth, json_body={"session_id": str(session_id), **fields})
    assert result.status == 200


def test_status_has_the_seed_fields(admin: psycopg.Connection[Any], user: User) -> None:
    session = create_session(admin, user.id)
    post_event(user, session, action_type="step_completed", step_name="Analyze brand memory")
    result = status(user, session)
    assert result.status == 200
    body = result.body
    assert {k: body[k] for k in ("session_id", "status", "current_step", "total_steps", "completed_steps", "error_message")} == {
        "session_id": str(session),
        "status": "analyzing_brand_memory",
        "current_step": "Analyze brand memory",
        "total_steps": 8,
        "completed_steps": ["Analyze brand memory"],
        "error_message": None,
    }
    assert body["progress_percentage"] == 12
    assert body["last_seq"] == 1
    assert datetime.fromisoformat(body["estimated_completion_at"]) > datetime.fromisoformat(body["started_at"])


def test_status_shows_the_open_question_until_it_is_answered(admin: psycopg.Connection[Any], user: User) -> None:
    runner = runner_for(admin, user)
    asked = ask(runner, runner.session_id, timeout_ms=60_000)
    question = status(user, runner.session_id).body["open_question"]
    assert question["question_seq"] == asked.body["seq"]
    assert question["question"] == QUESTION["question"]
    assert question["options"] == QUESTION["options"]
    assert question["default_value"] == "agent_decide"
    remaining = datetime.fromisoformat(question["timeout_at"]) - datetime.now(UTC)
    assert timedelta(seconds=50) < remaining <= timedelta(seconds=60)

    assert respond(user, runner.session_id, asked.body["seq"], "concept_1").status == 200
    assert status(user, runner.session_id).body["open_question"] is None


def test_status_without_a_question_has_none(admin: psycopg.Connection[Any], user: User) -> None:
    assert status(user, create_session(admin, user.id)).body["open_question"] is None


def test_estimate_follows_the_sessions_own_pace(admin: psycopg.Connection[Any], user: User) -> None:
    started = datetime.now(UTC) - timedelta(minutes=2)
    session = create_session(admin, user.id, started_at=started, progress_percentage=50, status="generating_concepts")
    eta = datetime.fromisoformat(status(user, session).body["estimated_completion_at"])
    assert abs((eta - (started + timedelta(minutes=4))).total_seconds()) < 5


def test_status_of_another_users_session_is_404(admin: psycopg.Connection[Any], user: User, other_user: User) -> None:
    session = create_session(admin, user.id)
    result = status(other_user, session)
    assert (result.status, result.body["error_code"]) == (404, "SESSION_NOT_FOUND")


@pytest.mark.parametrize("session_id", ["", "abc", "1 OR 1=1", "'; DROP TABLE agentmode.agent_sessions; --"])
def test_status_with_a_malformed_session_id_is_400(user: User, session_id: str) -> None:
    result = status(user, session_id)
    assert (result.status, result.body["error_code"]) == (400, "VALIDATION_ERROR")


def test_events_are_returned_in_order_after_a_seq(admin: psycopg.Connection[Any], user: User) -> None:
    session = create_session(admin, user.id)
    for _ in range(5):
        post_event(user, session, action_type="tool_called", tool_name="search")
    page = invoke("GET", "/agent/events", headers=user.auth, query={"session_id": str(session), "after_seq": 2, "limit": 2}).body
    assert [e["seq"] for e in page["events"]] == [3, 4]
    assert page["last_seq"] == 5
    assert page["events"][0]["payload"]["event"] == "tool_called"


def test_events_of_another_users_session_are_404(admin: psycopg.Connection[Any], user: User, other_user: User) -> None:
    session = create_session(admin, user.id)
    post_event(user, session, action_type="tool_called", tool_name="search")
    result = invoke("GET", "/agent/events", headers=other_user.auth, query={"session_id": str(session)})
    assert (result.status, result.body["error_code"]) == (404, "SESSION_NOT_FOUND")


@pytest.mark.parametrize("query", [{"after_seq": -1}, {"limit": 0}, {"limit": 501}, {"after_seq": "x"}])
def test_events_paging_is_validated(admin: psycopg.Connection[Any], user: User, query: dict[str, Any]) -> None:
    session = create_session(admin, user.id)
    result = invoke("GET", "/agent/events", headers=user.auth, query={"session_id": str(session), **query})
    assert (result.status, result.body["error_code"]) == (400, "VALIDATION_ERROR")
