"""Fixtures of the functional tests: the ClickHouse paths of the traces function (chDB in-process for local runs, a
server over HTTP as deployed), and the /opsboard arrangements (the caller's personal organization, Stripe on loopback)."""

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from agentmode.clickhouse import ClickHouse, EmbeddedClickHouse
from tests.clickhouse_http import ClickHouseHTTP, reading_over_http
from tests.conftest import reset_function_state
from tests.factories import User
from tests.opsboard import personal_org
from tests.projects_support import Team, new_team
from tests.stripe_billing_stub import StripeBillingStub

CLICKHOUSE_PATHS = ["chdb", "http"]


@pytest.fixture(scope="session")
def clickhouse_http(clickhouse: ClickHouse) -> Iterator[ClickHouseHTTP]:
    """ClickHouse's HTTP interface over the session's chDB, for the function's clickhouse-connect client."""
    assert isinstance(clickhouse, EmbeddedClickHouse)
    server = ClickHouseHTTP(clickhouse)
    yield server
    server.close()


@pytest.fixture(params=CLICKHOUSE_PATHS)
def clickhouse_path(request: pytest.FixtureRequest, clickhouse: ClickHouse) -> Iterator[str]:
    """Runs a test once per path. `http`: CLICKHOUSE_HOST points at the stand-in, so the function reads through
    RemoteClickHouse as deployed; both paths read the same chDB, where the tests insert their spans."""
    if request.param == "http":
        with reading_over_http(request.getfixturevalue("clickhouse_http")):
            yield request.param
    else:
        yield request.param


@pytest.fixture
def org(admin: psycopg.Connection[Any], user: User) -> uuid.UUID:
    """The organization the signup trigger made for `user` (its owner)."""
    return personal_org(admin, user)


@pytest.fixture
def stripe_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[StripeBillingStub]:
    """Stripe's API on loopback, configured as the billing functions are deployed (key, price, app URL)."""
    stub = StripeBillingStub()
    stub.configure(monkeypatch)
    reset_function_state()
    yield stub
    stub.close()
    monkeypatch.undo()
    reset_function_state()


@pytest.fixture
def team(admin: psycopg.Connection[Any]) -> Team:
    """An organization with a member of each role (tests/projects_support.py)."""
    return new_team(admin)
