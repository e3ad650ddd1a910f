"""Logs name the request, the caller and the session; DEBUG logs bodies with secrets masked; PROFILING_ENABLED writes
profiles."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import reset_function_state
from tests.factories import User, create_session
from tests.lambda_invoke import invoke
from tests.log_capture import LogOutput

SECRET_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    yield monkeypatch
    monkeypatch.undo()
    reset_function_state()


def test_each_request_logs_one_line_with_user_session_and_request_ids(
    admin: psycopg.Connection[Any], user: User, logs: LogOutput
) -> None:
    session_id = create_session(admin, user.id)

    invoke("GET", "/agent/status", headers=user.auth, query={"session_id": str(session_id)})

    [line] = logs.lines("request completed")
    assert (line["user_id"], line["session_id"], line["status"], line["route"]) == (
        str(user.id),
        str(session_id),
        200,
        "GET /agent/status",
    )
    assert line["correlation_id"]
    assert line["duration_ms"] >= 0


def test_keys_of_one_request_do_not_leak_into_the_next(admin: psycopg.Connection[Any], user: User, logs: LogOutput) -> None:
    invoke("GET", "/agent/status", headers=user.auth, query={"session_id": str(create_session(admin, user.id))})
    logs.clear()

    invoke("GET", "/agent/status", query={"session_id": str(create_session(admin, user.id))})

    [line] = logs.lines("request completed")
    assert line["status"] == 401
    assert "user_id" not in line
    assert "session_id" not in line


def test_an_error_log_names_the_caller(
    admin: psycopg.Connection[Any], user: User, logs: LogOutput, environment: pytest.MonkeyPatch
) -> None:
    session_id = create_session(admin, user.id)
    environment.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    reset_function_state()

    invoke("GET", "/agent/status", headers=user.auth, query={"session_id": str(session_id)})

    [failure] = logs.lines("request failed")
    assert (failure["user_id"], failure["error_code"]) == (str(user.id), "SERVICE_UNAVAILABLE")


def test_debug_logs_the_body_with_secrets_masked(user: User, logs: LogOutput, environment: pytest.MonkeyPatch) -> None:
    environment.setenv("DEBUG", "true")
    reset_function_state()
    body = {
        "content": f"Use token {SECRET_JWT} and key sk_live_abc123 for the campaign",
        "memory_type": "preference",
        "metadata": {"api_key": "plain-secret-value", "campaign": "spring"},
    }

    invoke("POST", "/agent/write-memory", headers=user.auth, json_body=body)

    out = logs.text()
    [line] = logs.lines("request received")
    logged = line["request"]
    assert (logged["method"], logged["path"]) == ("POST", "/agent/write-memory")
    assert logged["body"]["metadata"] == {"api_key": "[REDACTED]", "campaign": "spring"}
    assert "for the campaign" in logged["body"]["content"]
    for secret in (SECRET_JWT, "sk_live_abc123", "plain-secret-value", user.token):
        assert secret not in out


def test_without_debug_no_body_is_logged(user: User, logs: LogOutput) -> None:
    invoke("POST", "/agent/write-memory", headers=user.auth, json_body={"content": "quiet please", "memory_type": "preference"})

    out = logs.text()
    assert logs.lines("request received") == []
    assert "quiet please" not in out


@pytest.mark.parametrize(("profile_format", "suffix"), [("html", ".html"), ("speedscope", ".speedscope.json")])
def test_profiling_writes_one_profile_per_request(
    admin: psycopg.Connection[Any],
    user: User,
    tmp_path: Path,
    environment: pytest.MonkeyPatch,
    profile_format: str,
    suffix: str,
) -> None:
    environment.setenv("PROFILING_ENABLED", "true")
    environment.setenv("PROFILE_OUTPUT_DIR", str(tmp_path))
    environment.setenv("PROFILING_FORMAT", profile_format)
    reset_function_state()

    result = invoke("GET", "/agent/status", headers=user.auth, query={"session_id": str(create_session(admin, user.id))})

    assert result.status == 200
    [profile] = list(tmp_path.iterdir())
    assert profile.name.startswith("AgentStatusFunction-GET-agent-status-")
    assert profile.name.endswith(suffix)
    if profile_format == "speedscope":
        assert json.loads(profile.read_text())["$schema"].startswith("https://www.speedscope.app")
    else:
        assert "<html" in profile.read_text().lower()


def test_profiles_can_go_to_s3(admin: psycopg.Connection[Any], user: User, environment: pytest.MonkeyPatch) -> None:
    """Lambda's /tmp disappears with the container: PROFILE_OUTPUT_DIR=s3://bucket/prefix keeps the profiles."""
    import boto3
    from moto import mock_aws

    environment.setenv("AWS_ACCESS_KEY_ID", "testing")
    environment.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    environment.setenv("PROFILING_ENABLED", "true")
    environment.setenv("PROFILE_OUTPUT_DIR", "s3://agentmode-profiles/dev")
    reset_function_state()
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="agentmode-profiles")

        result = invoke("GET", "/agent/status", headers=user.auth, query={"session_id": str(create_session(admin, user.id))})

        keys = [item["Key"] for item in s3.list_objects_v2(Bucket="agentmode-profiles")["Contents"]]
    assert result.status == 200
    [key] = keys
    assert key.startswith("dev/AgentStatusFunction-GET-agent-status-")
    assert key.endswith(".html")
