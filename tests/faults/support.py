"""What every fault test checks: the documented error, its retry hint, and how long the answer took."""

import math
import time
from collections.abc import Callable
from typing import Any

import psycopg

from local.template_routes import load_routes, match_route
from tests.lambda_invoke import Result

ERROR_KEYS = {"error", "error_code", "details", "timestamp", "request_id"}


def timed(call: Callable[[], Result]) -> tuple[Result, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def lambda_timeout(method: str, path: str) -> int:
    """The route's function Timeout in template.yaml: past it Lambda kills the request and no error body is sent."""
    found = match_route(load_routes(), method, path)
    assert found is not None, path
    return found[0].timeout_seconds


def assert_error(result: Result, status: int, code: str) -> dict[str, Any]:
    assert (result.status, result.body and result.body.get("error_code")) == (status, code), result.body
    assert set(result.body) == ERROR_KEYS
    details: dict[str, Any] = result.body["details"]
    return details


def assert_retryable(result: Result, status: int, code: str) -> dict[str, Any]:
    """The error, `details.retry_after_ms` > 0 and the matching `Retry-After` header (whole seconds, rounded up)."""
    details = assert_error(result, status, code)
    retry_after_ms = details.get("retry_after_ms")
    assert isinstance(retry_after_ms, int), details
    assert retry_after_ms > 0
    assert result.headers.get("retry-after") == str(max(1, math.ceil(retry_after_ms / 1000)))
    return details


def assert_unavailable(result: Result, service: str) -> dict[str, Any]:
    details = assert_retryable(result, 503, "SERVICE_UNAVAILABLE")
    assert details.get("service") == service, details
    return details


def count(admin: psycopg.Connection[Any], sql: str, *params: Any) -> int:
    row = admin.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


def rate_limit_hits(admin: psycopg.Connection[Any], user_id: Any, action: str) -> int:
    return count(admin, "SELECT count(*) FROM agentmode.rate_limit_hits WHERE user_id = %s AND action = %s", user_id, action)
