"""Whatever the local runner itself refuses, it answers in the one error format, as the functions do."""

import socket
from urllib.parse import urlsplit

import httpx
import pytest

from tests.factories import User

ERROR_KEYS = {"error", "error_code", "details", "timestamp", "request_id"}


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["error_code"] == code
    assert response.headers["apigw-requestid"] == body["request_id"]


def raw_exchange(live_server: str, request: bytes) -> bytes:
    """One request written as bytes (for what an HTTP client refuses to send) and the whole answer."""
    address = urlsplit(live_server)
    with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_the_root_path_is_not_found(client: httpx.Client) -> None:
    assert_error(client.get("/"), 404, "NOT_FOUND")


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND"])
def test_a_method_no_route_serves_is_not_allowed(client: httpx.Client, method: str) -> None:
    response = client.request(method, "/agent/status")
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["allow"].split(",")}


def test_headers_over_64_kb_are_431_naming_the_limit(client: httpx.Client) -> None:
    response = client.get("/agent/status", headers={"x-padding": "a" * 70_000})
    assert_error(response, 431, "HEADERS_TOO_LARGE")
    assert "header" in response.json()["error"].lower()


def test_a_body_over_api_gateways_10_mb_is_payload_too_large_and_not_read(live_server: str) -> None:
    declared = 10 * 1024 * 1024 + 1
    answer = raw_exchange(
        live_server, f"POST /agent/start HTTP/1.1\r\nHost: x\r\nContent-Length: {declared}\r\n\r\n{{}}".encode()
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b'"error_code":"PAYLOAD_TOO_LARGE"' in body


def test_a_content_length_that_is_not_a_number_is_a_validation_error(live_server: str) -> None:
    answer = raw_exchange(live_server, b"POST /agent/start HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b'"error_code":"VALIDATION_ERROR"' in body


def test_a_malformed_request_line_is_a_validation_error(live_server: str) -> None:
    answer = raw_exchange(live_server, b"GET /agent status HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b'"error_code":"VALIDATION_ERROR"' in body


def test_a_stream_with_a_non_numeric_after_seq_is_a_validation_error(client: httpx.Client, user: User) -> None:
    session_id = client.post("/agent/start", headers=user.auth, json={"goal": "stream"}).json()["session_id"]
    response = client.get(f"/local/sessions/{session_id}/stream", params={"access_token": user.token, "after_seq": "abc"})
    assert_error(response, 400, "VALIDATION_ERROR")
    assert response.json()["details"]["errors"][0]["field"] == "query.after_seq"


def test_a_stream_without_a_valid_token_is_unauthorized(client: httpx.Client, user: User) -> None:
    session_id = client.post("/agent/start", headers=user.auth, json={"goal": "stream"}).json()["session_id"]
    response = client.get(f"/local/sessions/{session_id}/stream", params={"access_token": "not-a-token"})
    assert_error(response, 401, "UNAUTHORIZED")


def test_a_request_line_over_64_kb_is_414(live_server: str) -> None:
    answer = raw_exchange(live_server, b"GET /agent/status?x=" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 414 ")
    assert b'"error_code":"URI_TOO_LONG"' in body
