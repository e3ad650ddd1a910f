"""The ClickHouse paths of the traces function: chDB in-process (local runs) and a server over HTTP (deployed)."""

from collections.abc import Iterator

import pytest

from agentmode.clickhouse import ClickHouse, EmbeddedClickHouse
from tests.clickhouse_http import ClickHouseHTTP, reading_over_http

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
