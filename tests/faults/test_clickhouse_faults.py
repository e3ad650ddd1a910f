"""ClickHouse down, hung or failing: the traces routes answer 503 SERVICE_UNAVAILABLE (service "clickhouse") quickly.

The function talks to a ClickHouse server through its HTTP interface (agentmode.clickhouse.RemoteClickHouse, with
CLICKHOUSE_HOST set), which makes no request before a route's first statement. Here the server is a closed port, a
black hole, or `FakeClickHouse`, which answers every statement as scripted.
"""

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from agentmode.clickhouse import CLICKHOUSE_RETRY_AFTER_MS
from tests.factories import User
from tests.faults.conftest import Configure
from tests.faults.stubs import BlackHole, Reply, Request, ScriptedServer, closed_port
from tests.faults.support import assert_unavailable, lambda_timeout, timed
from tests.lambda_invoke import Result, invoke
from tests.trace_data import create_project

QUERY_TIMEOUT = 1
TRACE_ID = "0123456789abcdef0123456789abcdef"
ROUTES = ["/v4/traces", f"/v4/traces/{TRACE_ID}", "/v4/meterics/project", "/v4/metrics/project"]
TIMEOUT_EXCEEDED = b"Code: 159. DB::Exception: Timeout exceeded: elapsed 1.0 seconds, maximum: 1. (TIMEOUT_EXCEEDED)"


class FakeClickHouse(ScriptedServer):
    """Answers every statement with `self.query_reply`: by default, nothing until well after the query timeout."""

    def __init__(self, port: int = 0) -> None:
        self.query_reply = Reply(200, b"", {}, QUERY_TIMEOUT + 2.0)
        super().__init__(self._answer, port)

    @property
    def queries(self) -> list[Request]:
        return [r for r in self.requests if b"otel_" in r.body]

    def _answer(self, request: Request, index: int) -> Reply:
        return self.query_reply


@pytest.fixture
def project(admin: psycopg.Connection[Any], user: User) -> uuid.UUID:
    return create_project(admin, user.id)


@pytest.fixture
def fake() -> Iterator[FakeClickHouse]:
    server = FakeClickHouse()
    yield server
    server.close()


def remote(configure: Configure, port: int, **overrides: str) -> None:
    settings = {
        "CLICKHOUSE_HOST": "127.0.0.1",
        "CLICKHOUSE_PORT": str(port),
        "CLICKHOUSE_SECURE": "false",
        "CLICKHOUSE_CONNECT_TIMEOUT_SECONDS": "1",
        "CLICKHOUSE_QUERY_TIMEOUT_SECONDS": str(QUERY_TIMEOUT),
    }
    configure(**{**settings, **overrides})


def read(user: User, project: uuid.UUID, path: str) -> Result:
    return invoke("GET", path, headers=user.auth, query={"project_id": str(project)})


def assert_clickhouse_unavailable(result: Result, reason: str) -> None:
    details = assert_unavailable(result, "clickhouse")
    assert (details["reason"], details["retry_after_ms"]) == (reason, CLICKHOUSE_RETRY_AFTER_MS)
    assert "127.0.0.1" not in str(result.body)


@pytest.mark.parametrize("path", ROUTES)
def test_refused_clickhouse_is_503(path: str, user: User, project: uuid.UUID, configure: Configure) -> None:
    remote(configure, closed_port(), CLICKHOUSE_CONNECT_TIMEOUT_SECONDS="5")
    result, elapsed = timed(lambda: read(user, project, path))
    assert_clickhouse_unavailable(result, "connect failed")
    assert elapsed < 2.0  # a refusal is answered at once, not after the 5 s connect timeout


def test_hung_clickhouse_is_503_after_the_timeout_not_a_hang(user: User, project: uuid.UUID, configure: Configure) -> None:
    """A server that takes the connection and never answers: the statement's read timeout ends the wait."""
    path = ROUTES[0]
    hole = BlackHole()
    remote(configure, hole.port)
    try:
        result, elapsed = timed(lambda: read(user, project, path))
    finally:
        hole.close()
    assert_clickhouse_unavailable(result, "query failed to complete")
    assert QUERY_TIMEOUT - 0.1 <= elapsed < QUERY_TIMEOUT + 1.0
    assert elapsed < lambda_timeout("GET", path) / 5


@pytest.mark.parametrize("path", ROUTES[:3])
def test_clickhouse_that_stalls_on_a_query_is_503_after_the_query_timeout(
    path: str, user: User, project: uuid.UUID, configure: Configure, fake: FakeClickHouse
) -> None:
    remote(configure, fake.port)
    result, elapsed = timed(lambda: read(user, project, path))
    assert_clickhouse_unavailable(result, "query failed to complete")
    assert len(fake.queries) >= 1
    assert QUERY_TIMEOUT - 0.1 <= elapsed < QUERY_TIMEOUT + 1.0


def test_clickhouse_cloud_answering_503_is_retried_then_503(
    user: User, project: uuid.UUID, configure: Configure, fake: FakeClickHouse
) -> None:
    """ClickHouse Cloud answers 503 while a stopped service wakes up or when it sheds load."""
    fake.query_reply = Reply(503, b"Service is unavailable", {})
    remote(configure, fake.port)
    result, elapsed = timed(lambda: read(user, project, "/v4/traces"))
    assert_clickhouse_unavailable(result, "query failed to complete")
    assert len(fake.queries) == 3  # clickhouse-connect's 2 retries
    assert elapsed < 2.0


def test_a_clickhouse_that_was_down_is_reached_again_on_the_next_request(
    user: User, project: uuid.UUID, configure: Configure
) -> None:
    """A failed connect is not cached: once the server listens again, the next request talks to it."""
    port = closed_port()
    remote(configure, port)
    assert_clickhouse_unavailable(read(user, project, "/v4/traces"), "connect failed")
    server = FakeClickHouse(port)
    try:
        server.query_reply = Reply(503, b"Service is unavailable", {})
        assert_clickhouse_unavailable(read(user, project, "/v4/traces"), "query failed to complete")
    finally:
        server.close()
    assert len(server.queries) == 3


@pytest.mark.parametrize("path", ROUTES[:3])
def test_server_side_query_timeout_is_503(
    path: str, user: User, project: uuid.UUID, configure: Configure, fake: FakeClickHouse
) -> None:
    fake.query_reply = Reply(500, TIMEOUT_EXCEEDED, {"X-ClickHouse-Exception-Code": "159"})
    remote(configure, fake.port)
    assert_clickhouse_unavailable(read(user, project, path), "query failed to complete")


def test_a_sub_second_clickhouse_timeout_is_honoured(user: User, project: uuid.UUID, configure: Configure) -> None:
    remote(configure, closed_port(), CLICKHOUSE_CONNECT_TIMEOUT_SECONDS="0.5")
    assert_clickhouse_unavailable(read(user, project, "/v4/traces"), "connect failed")


def test_an_answer_cut_short_is_503_not_a_500(user: User, project: uuid.UUID, configure: Configure, fake: FakeClickHouse) -> None:
    fake.query_reply = Reply(200, b'{"meta": [{"name": "trace_id", "type": "String"}], "data": [{"trace_id": "01', {})
    remote(configure, fake.port)
    assert_clickhouse_unavailable(read(user, project, "/v4/traces"), "query failed to complete")
