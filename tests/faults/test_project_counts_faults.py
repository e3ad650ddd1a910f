"""ClickHouse failing under GET /opsboard/projects once its client has connected: the trace and span counts are extras
of the list, so they are null and the list is served, within the query timeout, whatever the failure. A refused
ClickHouse and one that hangs at connect: tests/functional/test_opsboard_projects_read.py."""

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.factories import User
from tests.faults.conftest import Configure
from tests.faults.stubs import Reply
from tests.faults.support import timed
from tests.faults.test_clickhouse_faults import QUERY_TIMEOUT, TIMEOUT_EXCEEDED, FakeClickHouse, remote
from tests.lambda_invoke import invoke
from tests.opsboard import personal_org

FAILURES = {
    "stalls past the query timeout": Reply(200, b"", {}, QUERY_TIMEOUT + 2.0),
    "answers 503 (ClickHouse Cloud waking up)": Reply(503, b"Service is unavailable", {}),
    "times the query out itself": Reply(500, TIMEOUT_EXCEEDED, {"X-ClickHouse-Exception-Code": "159"}),
    # Not a retry (the schema was never applied there): logged as an error, and still not the list's failure.
    "refuses the query (unknown table)": Reply(
        404,
        b"Code: 60. DB::Exception: Unknown table expression identifier 'otel_trace_summaries'. (UNKNOWN_TABLE)",
        {"X-ClickHouse-Exception-Code": "60"},
    ),
}


@pytest.fixture
def fake() -> Iterator[FakeClickHouse]:
    server = FakeClickHouse()
    yield server
    server.close()


@pytest.mark.parametrize("failure", FAILURES)
def test_a_failing_count_query_leaves_the_counts_null_and_the_list_served(
    admin: psycopg.Connection[Any], user: User, configure: Configure, fake: FakeClickHouse, failure: str
) -> None:
    fake.query_reply = FAILURES[failure]
    remote(configure, fake.port)

    result, elapsed = timed(lambda: invoke("GET", "/opsboard/projects", headers=user.auth))

    assert result.status == 200, result.body
    [project] = result.body
    assert (project["org_id"], project["span_count"], project["trace_count"]) == (str(personal_org(admin, user)), None, None)
    assert fake.queries, "the count query reached ClickHouse"
    assert elapsed < QUERY_TIMEOUT + 1.0
