"""Every example body of seed 001 is accepted as it stands (only its placeholder ids replaced by real ones, and its
`/* … */` comments by empty values)."""

import uuid
from typing import Any

import psycopg
import pytest

from tests.factories import User
from tests.lambda_invoke import invoke

SEED_START = {
    "goal": "Generate video ads for my SaaS product",
    "reference_video_url": "https://example.com/video.mp4",
    "constraints": {"max_videos": 3, "max_duration_seconds": 30, "aspect_ratio": "9:16"},
}

SEED_TOOL_CALL = {
    "step_name": "Research competitors",
    "action_type": "tool_call",
    "tool_name": "meta_ads_search",
    "input_data": {"search_term": "Nike", "limit": 50},
    "output_data": {"ads": []},
    "reasoning": "Searching Meta Ads Library for Nike to identify winning hooks",
    "confidence_score": 0.95,
    "execution_time_ms": 2300,
    "status": "success",
}

# §6, in the order a run would send them (the channel messages double as POST /agent/event bodies).
SEED_CHANNEL_EVENTS: list[dict[str, Any]] = [
    {"event": "step_started", "step_name": "Research competitors", "step_index": 2, "timestamp": "2025-01-15T10:30:00Z"},
    {
        "event": "step_progress",
        "step_name": "Research competitors",
        "progress_percentage": 50,
        "message": "Fetched 25/50 ads from Meta Ads Library",
        "timestamp": "2025-01-15T10:30:30Z",
    },
    {
        "event": "tool_called",
        "tool_name": "meta_ads_search",
        "input": {"search_term": "Nike", "limit": 50},
        "timestamp": "2025-01-15T10:30:15Z",
    },
    {
        "event": "tool_result",
        "tool_name": "meta_ads_search",
        "output": {"ads_count": 50, "execution_time_ms": 2300},
        "status": "success",
        "timestamp": "2025-01-15T10:30:17Z",
    },
    {
        "event": "step_completed",
        "step_name": "Research competitors",
        "step_index": 2,
        "result": {"ads_found": 50, "top_hooks": ["Stop wasting time on...", "Automate your workflow..."]},
        "timestamp": "2025-01-15T10:31:00Z",
    },
    {
        "event": "reasoning_update",
        "step_name": "Generate concepts",
        "reasoning": (
            "Based on competitor analysis, I'm focusing on problem-solution hooks because they have 3x higher engagement"
        ),
        "confidence_score": 0.92,
        "timestamp": "2025-01-15T10:32:00Z",
    },
    {
        "event": "user_input_required",
        "question": "Which tone should I use for this campaign?",
        "options": [
            {"value": "professional", "label": "Professional and authoritative"},
            {"value": "friendly", "label": "Friendly and conversational"},
            {"value": "agent_decide", "label": "Let the agent decide"},
        ],
        "timeout_ms": 120000,
        "timestamp": "2025-01-15T10:33:00Z",
    },
    {
        "event": "error",
        "error_message": "Meta Ads Library rate limit exceeded",
        "recovery_strategy": "retry_after_delay",
        "retry_after_ms": 300000,
        "timestamp": "2025-01-15T10:34:00Z",
    },
    {
        "event": "session_completed",
        "status": "success",
        "result": {"videos_generated": 3, "research_report_url": "https://..."},
        "total_duration_ms": 320000,
        "timestamp": "2025-01-15T10:35:00Z",
    },
]

SEED_MEMORY = {
    "content": "Brand voice: Professional yet approachable...",
    "memory_type": "brand_memory",
    "metadata": {"brand_name": "TechFlow", "industry": "B2B SaaS", "source": "agent_inferred"},
    "expires_at": None,
}


def start(user: User) -> uuid.UUID:
    result = invoke("POST", "/agent/start", headers=user.auth, json_body=SEED_START)
    assert result.status == 201, result.body
    return uuid.UUID(result.body["session_id"])


def test_the_seed_start_request_is_accepted(user: User) -> None:
    start(user)


def test_the_seed_tool_call_is_logged_as_the_tool_result_it_reports(admin: psycopg.Connection[Any], user: User) -> None:
    session = start(user)
    result = invoke("POST", "/agent/event", headers=user.auth, json_body={"session_id": str(session), **SEED_TOOL_CALL})
    assert (result.status, result.body["status"]) == (200, "logged")
    row = admin.execute(
        "SELECT action_type, tool_name, output_data, reasoning, execution_time_ms, status FROM agentmode.agent_execution_logs"
        " WHERE session_id = %s",
        (session,),
    ).fetchone()
    assert row == ("tool_result", "meta_ads_search", {"ads": []}, SEED_TOOL_CALL["reasoning"], 2300, "success")


def test_a_seed_tool_call_without_an_outcome_is_the_call_itself(admin: psycopg.Connection[Any], user: User) -> None:
    session = start(user)
    body = {"session_id": str(session), "action_type": "tool_call", "tool_name": "meta_ads_search", "input_data": {"q": 1}}
    assert invoke("POST", "/agent/event", headers=user.auth, json_body=body).status == 200
    kind = admin.execute("SELECT action_type FROM agentmode.agent_execution_logs WHERE session_id = %s", (session,)).fetchone()
    assert kind == ("tool_called",)


def test_every_seed_channel_event_is_accepted_in_order(admin: psycopg.Connection[Any], user: User) -> None:
    session = start(user)
    statuses = [
        invoke("POST", "/agent/event", headers=user.auth, json_body={"session_id": str(session), **event}).status
        for event in SEED_CHANNEL_EVENTS
    ]
    assert statuses == [200] * len(SEED_CHANNEL_EVENTS)
    logged = admin.execute(
        "SELECT array_agg(action_type ORDER BY seq) FROM agentmode.agent_execution_logs WHERE session_id = %s", (session,)
    ).fetchone()[0]
    assert logged == [event["event"] for event in SEED_CHANNEL_EVENTS]


def test_the_senders_timestamp_does_not_replace_the_servers(admin: psycopg.Connection[Any], user: User) -> None:
    session = start(user)
    invoke("POST", "/agent/event", headers=user.auth, json_body={"session_id": str(session), **SEED_CHANNEL_EVENTS[0]})
    stamped = admin.execute(
        "SELECT event_payload ->> 'timestamp' FROM agentmode.agent_execution_logs WHERE session_id = %s", (session,)
    ).fetchone()[0]
    assert not stamped.startswith("2025-01-15")


@pytest.mark.parametrize("timestamp", [{"at": 1}, [1], True])
def test_a_timestamp_that_is_not_a_time_is_400(user: User, timestamp: Any) -> None:
    session = start(user)
    body = {"session_id": str(session), **SEED_CHANNEL_EVENTS[0], "timestamp": timestamp}
    assert invoke("POST", "/agent/event", headers=user.auth, json_body=body).status == 400


def test_the_seed_memory_write_and_read_are_accepted(user: User) -> None:
    assert invoke("POST", "/agent/write-memory", headers=user.auth, json_body=SEED_MEMORY).status == 201
    found = invoke("GET", "/agent/read-memory", headers=user.auth, query={"query": "brand voice", "memory_type": "brand_memory"})
    assert found.status == 200
    assert SEED_MEMORY["content"] in [hit["content"] for hit in found.body["results"]]
