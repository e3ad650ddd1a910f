"""Every failure answers in the one error format, with no stack trace or secret in the body or the logs."""

from typing import Any

import pytest

import agent_status.routes as status_routes
from tests.conftest import reset_function_state
from tests.factories import User
from tests.lambda_invoke import invoke

ERROR_KEYS = {"error", "error_code", "details", "timestamp", "request_id"}


def test_unhandled_exception_is_500_internal_error_without_a_trace(
    user: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret-connection-string postgres://admin:hunter2@db")

    monkeypatch.setattr(status_routes, "load_session", explode)
    result = invoke("GET", "/agent/status", headers=user.auth, query={"session_id": "6f1c2a3e-8b4d-4e7f-9a10-0d3e5b7c9a21"})
    assert (result.status, result.body["error_code"]) == (500, "INTERNAL_ERROR")
    assert set(result.body) == ERROR_KEYS
    [record] = [r for r in caplog.records if r.getMessage() == "unhandled exception"]
    assert (record.exc_info, record.__dict__["error_type"]) == (None, "RuntimeError")
    assert record.__dict__["request_id"] == result.body["request_id"]
    assert "hunter2" not in str(result.body) + str(record.__dict__)


def test_request_id_is_the_api_gateway_request_id(user: User) -> None:
    from tests.lambda_invoke import invoke_event, load_event

    event = load_event("agent_status_get.json")
    event["requestContext"]["requestId"] = "apigw-request-123"
    assert invoke_event(event).body["request_id"] == "apigw-request-123"


def test_database_down_is_503_with_retry_after(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:9/postgres")
    monkeypatch.setenv("DB_CONNECT_TIMEOUT_SECONDS", "1")
    reset_function_state()
    try:
        result = invoke("GET", "/agent/status", headers=user.auth, query={"session_id": "6f1c2a3e-8b4d-4e7f-9a10-0d3e5b7c9a21"})
    finally:
        monkeypatch.undo()
        reset_function_state()
    assert (result.status, result.body["error_code"]) == (503, "SERVICE_UNAVAILABLE")
    assert result.body["details"]["retry_after_ms"] > 0
    assert "127.0.0.1" not in str(result.body)


def test_oversized_body_is_413(user: User) -> None:
    result = invoke("POST", "/agent/event", headers=user.auth, raw_body=b"{" + b" " * 300_000 + b"}")
    assert (result.status, result.body["error_code"]) == (413, "PAYLOAD_TOO_LARGE")


def test_validation_errors_do_not_echo_the_input(user: User) -> None:
    result = invoke(
        "POST", "/agent/start", headers=user.auth, json_body={"goal": "ok", "constraints": {"aspect_ratio": "sk_live_leak"}}
    )
    assert result.status == 400
    assert "sk_live_leak" not in str(result.body)
