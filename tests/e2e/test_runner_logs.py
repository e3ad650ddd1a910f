"""The local runner's logs: each function's lines name its own service, and no line carries a token."""

import io
import json
import logging
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest

from agentmode.observability import logger
from local.server import LocalServer
from local.template_routes import Route, load_routes
from tests.factories import User

ONE_ROUTE_PER_FUNCTION = list({route.function: route for route in load_routes() if "{" not in route.path}.values())


@pytest.fixture
def function_log() -> Iterator[io.StringIO]:
    """What the functions' shared Powertools logger prints, as printed."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    printed = io.StringIO()
    previous = handler.setStream(printed)
    yield printed
    handler.setStream(previous)


def completed_lines(printed: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in printed.getvalue().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("message") == "request completed"]


@pytest.mark.parametrize("route", ONE_ROUTE_PER_FUNCTION, ids=lambda route: route.function)
def test_a_functions_log_lines_name_its_service_from_the_template(
    client: httpx.Client, function_log: io.StringIO, route: Route
) -> None:
    client.request(route.method, route.path)
    lines = [line for line in completed_lines(function_log) if line["route"] == route.route_key]
    assert [line["service"] for line in lines] == [route.service]


def test_the_access_log_masks_the_streams_access_token(
    client: httpx.Client, user: User, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCAL_ACCESS_LOG", "1")
    session_id = client.post("/agent/start", headers=user.auth, json={"goal": "stream"}).json()["session_id"]
    client.get(f"/local/sessions/{session_id}/stream", params={"access_token": user.token, "after_seq": "x"})
    client.get("/agent/status", params={"session_id": session_id, "access_token": "opaque-not-a-jwt"})
    logged = capsys.readouterr().err
    assert f"/local/sessions/{session_id}/stream" in logged
    assert user.token not in logged
    assert "opaque-not-a-jwt" not in logged


def test_a_refused_request_line_is_logged_without_its_token(
    live_server: str, user: User, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.e2e.test_runner_errors import raw_exchange

    monkeypatch.setenv("LOCAL_ACCESS_LOG", "1")
    raw_exchange(live_server, f"GET /agent/status?access_token={user.token} junk HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    logged = capsys.readouterr().err
    assert "Bad request syntax" in logged
    assert user.token not in logged


def test_a_connection_that_fails_is_logged_in_one_line_without_a_stack_trace(capsys: pytest.CaptureFixture[str]) -> None:
    server = LocalServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    try:
        raise BrokenPipeError(32, "Broken pipe")
    except BrokenPipeError:
        server.handle_error(None, ("127.0.0.1", 50000))
    finally:
        server.server_close()
    logged = capsys.readouterr().err
    assert logged == "connection from 127.0.0.1 ended: BrokenPipeError\n"
