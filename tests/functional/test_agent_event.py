"""POST /agent/event through its deployed handler: ownership, the state machine, numbering (seed 001 §2, §6).
Broadcasts: test_realtime.py."""

import uuid
from typing import Any

import psycopg
import pytest

from tests.factories import User, create_session
from tests.lambda_invoke import Result, invoke


def send(user: User, session_id: uuid.UUID, action_type: str, **fields: Any) -> Result:
    body = {"session_id": str(session_id), "action_type": action_type, **fields}
    return invoke("POST", "/agent/event", headers=user.auth, json_body=body)


def logs_of(admin: psycopg.Connection[Any], session_id: uuid.UUID) -> list[dict[str, Any]]:
    cursor = admin.execute(
        "SELECT seq, action_type, user_id, event_payload FROM agentmode.agent_execution_logs WHERE session_id = %s ORDER BY seq",
        (session_id,),
    )
    names = [c.name for c in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def session_row(admin: psycopg.Connection[Any], session_id: uuid.UUID) -> dict[str, Any]:
    cursor = admin.execute("SELECT * FROM agentmode.agent_sessions WHERE id = %s", (session_id,))
    names = [c.name for c in cursor.description or []]
    return dict(zip(names, cursor.fetchone(), strict=True))


@pytest.fixture
def session(admin: psycopg.Connection[Any], user: User) -> uuid.UUID:
    return create_session(admin, user.id)


def test_event_is_logged_with_the_seed_response(admin: psycopg.Connection[Any], user: User, session: uuid.UUID) -> None:
    result = send(user, session, "step_started", step_name="Analyze brand memory")
    assert result.status == 200
    assert (result.body["status"], result.body["seq"], result.body["session_status"]) == ("logged", 1, "analyzing_brand_memory")
    [row] = logs_of(admin, session)
    assert (row["action_type"], row["user_id"]) == ("step_started", user.id)
    assert str(row["event_payload"]["log_id"]) == result.body["log_id"]


def test_events_are_numbered_per_session_without_gaps(admin: psycopg.Connection[Any], user: User, session: uuid.UUID) -> None:
    other = create_session(admin, user.id)
    seqs = [send(user, session, "tool_called", tool_name="search").body["seq"] for _ in range(3)]
    assert seqs == [1, 2, 3]
    assert send(user, other, "tool_called", tool_name="search").body["seq"] == 1
    assert session_row(admin, session)["last_seq"] == 3


def test_event_advances_the_session(admin: psycopg.Connection[Any], user: User, session: uuid.UUID) -> None:
    send(user, session, "step_completed", step_name="Analyze brand memory")
    send(user, session, "step_progress", step_name="Research competitors", progress_percentage=50, message="25/50 ads")
    row = session_row(admin, session)
    assert (row["status"], row["current_step"], row["completed_steps"], row["progress_percentage"]) == (
        "researching_competitors",
        "Research competitors",
        ["Analyze brand memory"],
        18,
    )


def test_session_completed_finishes_the_session_and_later_events_are_409(
    admin: psycopg.Connection[Any], user: User, session: uuid.UUID
) -> None:
    done = send(user, session, "session_completed", status="success", result={"videos_generated": 3})
    assert done.body["session_status"] == "completed"
    late = send(user, session, "tool_called", tool_name="search")
    assert (late.status, late.body["error_code"]) == (409, "SESSION_ENDED")
    assert [r["seq"] for r in logs_of(admin, session)] == [1]
    row = session_row(admin, session)
    assert (row["status"], row["progress_percentage"], row["result"]) == ("completed", 100, {"videos_generated": 3})


def test_event_on_another_users_session_is_404_and_logs_nothing(
    admin: psycopg.Connection[Any], other_user: User, session: uuid.UUID
) -> None:
    result = send(other_user, session, "tool_called", tool_name="search")
    assert (result.status, result.body["error_code"]) == (404, "SESSION_NOT_FOUND")
    assert logs_of(admin, session) == []
    assert session_row(admin, session)["last_seq"] == 0


def test_event_on_an_unknown_session_is_404(user: User) -> None:
    result = send(user, uuid.uuid4(), "tool_called", tool_name="search")
    assert (result.status, result.body["error_code"]) == (404, "SESSION_NOT_FOUND")


def test_invalid_event_is_400_and_logs_nothing(admin: psycopg.Connection[Any], user: User, session: uuid.UUID) -> None:
    result = send(user, session, "tool_invoked", tool_name="search")
    assert (result.status, result.body["error_code"]) == (400, "VALIDATION_ERROR")
    assert result.body["details"]["errors"][0]["field"] == "body.action_type"
    assert logs_of(admin, session) == []


def test_payload_has_the_6_shape(admin: psycopg.Connection[Any], user: User, session: uuid.UUID) -> None:
    send(
        user,
        session,
        "tool_result",
        tool_name="meta_ads_search",
        output_data={"ads_count": 50},
        execution_time_ms=2300,
        status="success",
    )
    [row] = logs_of(admin, session)
    payload = row["event_payload"]
    assert {k: payload[k] for k in ("event", "session_id", "tool_name", "output", "status", "seq")} == {
        "event": "tool_result",
        "session_id": str(session),
        "tool_name": "meta_ads_search",
        "output": {"ads_count": 50, "execution_time_ms": 2300},
        "status": "success",
        "seq": 1,
    }
    assert payload["timestamp"].endswith("Z")
