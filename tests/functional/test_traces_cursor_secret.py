"""TRACES_CURSOR_SECRET: the key of the list's cursors; the public local key only in local and test."""

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from agentmode.clickhouse import ClickHouse
from tests.conftest import reset_function_state
from tests.factories import User
from tests.functional.test_traces_cursor import cursor_payload, walk_pages
from tests.functional.test_traces_detail_metrics import get_trace
from tests.functional.test_traces_list import list_traces
from tests.log_capture import LogOutput
from tests.trace_data import NOW, create_project, simple_trace
from traces import cursor as cursors
from traces import routes as traces_routes

DEPLOYED_SECRET = "a-deployed-cursor-secret-of-some-length"


@pytest.fixture
def project(clickhouse: ClickHouse, admin: psycopg.Connection[Any], user: User) -> uuid.UUID:
    return create_project(admin, user.id)


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch, clickhouse: ClickHouse) -> Iterator[pytest.MonkeyPatch]:
    """A container of a deployed stage (prod); each test sets the secret or leaves it out. Its ClickHouse server is
    the session's chDB, handed in: deployed, the function itself refuses to fall back to chDB."""
    monkeypatch.setenv("ENVIRONMENT", "prod")
    monkeypatch.delenv("TRACES_CURSOR_SECRET", raising=False)
    monkeypatch.setattr(traces_routes, "get_clickhouse", lambda settings=None: clickhouse)
    reset_function_state()
    yield monkeypatch
    monkeypatch.undo()
    reset_function_state()


def test_without_the_secret_a_deployed_list_answers_503_and_logs_the_missing_setting(
    clickhouse: ClickHouse, user: User, project: uuid.UUID, deployed: pytest.MonkeyPatch, logs: LogOutput
) -> None:
    simple_trace(clickhouse, project)

    result = list_traces(user, project)

    assert (result.status, result.body["error_code"]) == (503, "SERVICE_UNAVAILABLE")
    assert result.body["details"] == {"service": "traces", "reason": "not configured"}
    [line] = logs.lines("TRACES_CURSOR_SECRET is not set: the trace list cannot sign its cursors")
    assert (line["level"], line["setting"]) == ("ERROR", "TRACES_CURSOR_SECRET")


def test_without_the_secret_a_deployed_trace_detail_still_answers(
    clickhouse: ClickHouse, user: User, project: uuid.UUID, deployed: pytest.MonkeyPatch
) -> None:
    trace_id = simple_trace(clickhouse, project)

    assert get_trace(user, project, trace_id).status == 200


def test_with_the_secret_a_deployed_walk_works_and_refuses_cursors_of_the_local_key(
    clickhouse: ClickHouse, user: User, project: uuid.UUID, deployed: pytest.MonkeyPatch
) -> None:
    ids = [simple_trace(clickhouse, project, start=NOW - timedelta(hours=hours)) for hours in (1, 2, 3)]
    deployed.setenv("TRACES_CURSOR_SECRET", DEPLOYED_SECRET)
    reset_function_state()

    pages = list(walk_pages(user, project, 2))
    position = cursors.Cursor.model_validate(cursor_payload(pages[0]["next_cursor"]))
    fingerprint = cursors.filters_fingerprint(str(project), None, None)
    local = cursors.sign(position, fingerprint, cursors.LOCAL_AND_TEST_ONLY_CURSOR_KEY)
    refused = list_traces(user, project, limit=2, cursor=local)

    assert [row["trace_id"] for page in pages for row in page["traces"]] == ids
    assert pages[0]["next_cursor"] == cursors.sign(position, fingerprint, DEPLOYED_SECRET.encode())
    assert (refused.status, refused.body["error_code"], refused.body["details"]) == (400, "VALIDATION_ERROR", {"field": "cursor"})
