"""The local runner over real HTTP: template routes, v2 events, the deployed handlers and the embedded Postgres."""

import json
import time
import uuid
from typing import Any

import httpx
import jwt
import psycopg
import pytest

from tests.factories import TEST_JWT_SECRET, User, create_user


def test_a_session_runs_from_start_to_completion_and_replays(client: httpx.Client, user: User) -> None:
    started = client.post("/agent/start", headers=user.auth, json={"goal": "Generate video ads for my SaaS product"})
    assert started.status_code == 201
    session_id = started.json()["session_id"]
    script: list[dict[str, Any]] = [
        {"action_type": "step_started", "step_name": "Analyze brand memory", "step_index": 1},
        {"action_type": "step_completed", "step_name": "Analyze brand memory", "step_index": 1},
        {"action_type": "step_started", "step_name": "Research competitors"},
        {"action_type": "tool_called", "tool_name": "meta_ads_search", "input_data": {"search_term": "Nike", "limit": 50}},
        {"action_type": "tool_result", "tool_name": "meta_ads_search", "output_data": {"ads_count": 50}, "status": "success"},
        {"action_type": "step_progress", "step_name": "Research competitors", "progress_percentage": 50},
    ]
    seqs = []
    for event in script:
        logged = client.post("/agent/event", headers=user.auth, json={"session_id": session_id, **event})
        assert logged.status_code == 200, logged.text
        seqs.append(logged.json()["seq"])
    assert seqs == [1, 2, 3, 4, 5, 6]

    status = client.get("/agent/status", headers=user.auth, params={"session_id": session_id}).json()
    assert (status["status"], status["current_step"], status["completed_steps"]) == (
        "researching_competitors",
        "Research competitors",
        ["Analyze brand memory"],
    )
    assert status["progress_percentage"] == 18

    caught_up = client.get("/agent/events", headers=user.auth, params={"session_id": session_id, "after_seq": 3}).json()
    assert [e["event"] for e in caught_up["events"]] == ["tool_called", "tool_result", "step_progress"]

    done = client.post(
        "/agent/event",
        headers=user.auth,
        json={
            "session_id": session_id,
            "action_type": "session_completed",
            "status": "success",
            "result": {"videos_generated": 3},
        },
    )
    assert done.json()["session_status"] == "completed"
    final = client.get("/agent/status", headers=user.auth, params={"session_id": session_id}).json()
    assert (final["status"], final["progress_percentage"], final["estimated_completion_at"]) == (
        "completed",
        100,
        final["completed_at"],
    )


def test_another_user_cannot_read_or_write_the_session(
    client: httpx.Client, user: User, other_user: User, admin: psycopg.Connection[Any]
) -> None:
    session_id = client.post("/agent/start", headers=user.auth, json={"goal": "mine"}).json()["session_id"]
    read = client.get("/agent/status", headers=other_user.auth, params={"session_id": session_id})
    events = client.get("/agent/events", headers=other_user.auth, params={"session_id": session_id})
    write = client.post(
        "/agent/event", headers=other_user.auth, json={"session_id": session_id, "action_type": "error", "error_message": "x"}
    )
    assert [r.status_code for r in (read, events, write)] == [404, 404, 404]
    assert {r.json()["error_code"] for r in (read, events, write)} == {"SESSION_NOT_FOUND"}
    logged = admin.execute("SELECT count(*) FROM agentmode.agent_execution_logs WHERE session_id = %s", (session_id,)).fetchone()[
        0
    ]
    assert logged == 0


@pytest.mark.parametrize(
    "token",
    [
        jwt.encode(
            {"sub": str(uuid.uuid4()), "aud": "authenticated", "role": "authenticated", "exp": int(time.time()) - 10},
            TEST_JWT_SECRET,
        ),
        jwt.encode(
            {"sub": str(uuid.uuid4()), "aud": "authenticated", "role": "authenticated", "exp": int(time.time()) + 600},
            "forged-" * 8,
        ),
        "not-a-token",
    ],
    ids=["expired", "forged", "garbage"],
)
def test_forged_or_expired_tokens_are_401(client: httpx.Client, token: str) -> None:
    response = client.post("/agent/start", headers={"authorization": f"Bearer {token}"}, json={"goal": "x"})
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHORIZED"


def test_the_eleventh_free_run_of_the_day_is_429(client: httpx.Client, admin: psycopg.Connection[Any]) -> None:
    free = create_user(admin, credits=1000)
    codes = [client.post("/agent/start", headers=free.auth, json={"goal": f"run {n}"}).status_code for n in range(11)]
    assert codes == [201] * 10 + [429]
    last = client.post("/agent/start", headers=free.auth, json={"goal": "again"})
    assert last.json()["error_code"] == "RATE_LIMIT_EXCEEDED"
    assert int(last.headers["retry-after"]) > 0


def test_unknown_path_answers_in_the_error_format(client: httpx.Client) -> None:
    response = client.get("/v9/unknown")
    assert (response.status_code, response.json()["error_code"]) == (404, "NOT_FOUND")


def test_session_events_stream_as_server_sent_events(client: httpx.Client, user: User) -> None:
    session_id = client.post("/agent/start", headers=user.auth, json={"goal": "stream"}).json()["session_id"]
    client.post(
        "/agent/event", headers=user.auth, json={"session_id": session_id, "action_type": "tool_called", "tool_name": "search"}
    )
    with client.stream("GET", f"/local/sessions/{session_id}/stream", params={"access_token": user.token}) as stream:
        lines = []
        for line in stream.iter_lines():
            lines.append(line)
            if line.startswith("data:"):
                break
    assert lines[:2] == ["id: 1", "event: tool_called"]


REFUSE_MISSED = "ALTER TABLE realtime.messages ADD CONSTRAINT refuse_one CHECK (payload ->> 'tool_name' <> 'missed') NOT VALID"


def test_the_stream_follows_the_sessions_private_channel_after_the_log_so_far(
    client: httpx.Client, admin: psycopg.Connection[Any], user: User
) -> None:
    """Events logged after the stream opened reach it from realtime.messages (what Realtime pushes), not from the log:
    one whose broadcast failed is in the log but not in the stream, as a Realtime client would miss it."""
    session_id = client.post("/agent/start", headers=user.auth, json={"goal": "stream"}).json()["session_id"]

    def log(tool: str) -> None:
        body = {"session_id": session_id, "action_type": "tool_called", "tool_name": tool}
        assert client.post("/agent/event", headers=user.auth, json=body).status_code == 200

    log("before")
    seen: list[str] = []
    with client.stream("GET", f"/local/sessions/{session_id}/stream", params={"access_token": user.token}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                seen.append(json.loads(line[len("data:") :])["tool_name"])
                if seen == ["before"]:
                    admin.execute(REFUSE_MISSED)
                    try:
                        log("missed")
                    finally:
                        admin.execute("ALTER TABLE realtime.messages DROP CONSTRAINT refuse_one")
                    log("after")
                if "after" in seen:
                    break

    assert seen == ["before", "after"]


def test_stripe_webhook_verifies_the_raw_body_over_http(
    client: httpx.Client, admin: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from local.make_events import STRIPE_EVENT, stripe_signature_header
    from tests.conftest import reset_function_state

    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_e2e")
    reset_function_state()
    payload = json.dumps({**STRIPE_EVENT, "id": f"evt_{uuid.uuid4().hex}"}).encode()
    good = client.post(
        "/v4/stripe-webhook", content=payload, headers={"stripe-signature": stripe_signature_header(payload, "whsec_e2e")}
    )
    bad = client.post(
        "/v4/stripe-webhook", content=payload + b" ", headers={"stripe-signature": stripe_signature_header(payload, "whsec_e2e")}
    )
    monkeypatch.undo()
    reset_function_state()
    assert (good.status_code, good.json()["outcome"]) == (200, "ignored_type")
    assert (bad.status_code, bad.json()["error_code"]) == (400, "WEBHOOK_SIGNATURE_INVALID")
