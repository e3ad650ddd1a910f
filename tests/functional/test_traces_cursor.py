"""Keyset pagination of GET /v4/traces, and who may read a project's traces at all."""

import base64
import json
import uuid
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from agentmode.clickhouse import ClickHouse
from tests.factories import User
from tests.functional.test_traces_list import list_traces
from tests.lambda_invoke import invoke
from tests.trace_data import NOW, create_project, simple_trace


@pytest.fixture
def project(clickhouse: ClickHouse, admin: psycopg.Connection[Any], user: User) -> uuid.UUID:
    """A project of the user's organization; ClickHouse has its schema by then."""
    return create_project(admin, user.id)


def walk(user: User, project: uuid.UUID, between_pages: Any = None, **query: Any) -> list[str]:
    seen: list[str] = []
    page = list_traces(user, project, limit=3, **query).body
    while True:
        seen += [row["trace_id"] for row in page["traces"]]
        if page["next_cursor"] is None:
            return seen
        if between_pages:
            between_pages()
        page = list_traces(user, project, limit=3, cursor=page["next_cursor"], **query).body


@pytest.mark.parametrize("order_by", ["start_time", "total_cost", "span_count"])
def test_a_cursor_walk_loses_and_repeats_nothing_while_traces_are_appended(
    clickhouse: ClickHouse, user: User, project: uuid.UUID, order_by: str
) -> None:
    original = {simple_trace(clickhouse, project, start=NOW - timedelta(hours=2, minutes=i), children=i % 3) for i in range(10)}
    appended: list[str] = []

    def append() -> None:
        appended.append(simple_trace(clickhouse, project, start=NOW - timedelta(minutes=5), children=len(appended) % 3))

    seen = walk(user, project, append, order_by=order_by)

    assert len(seen) == len(set(seen)), "a trace was repeated"
    assert original <= set(seen), "a trace was lost"
    assert set(seen) <= original | set(appended)


def test_the_cursor_pins_the_range_of_the_first_page(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    ids = [simple_trace(clickhouse, project, start=NOW - timedelta(hours=i + 1)) for i in range(4)]
    first = list_traces(user, project, limit=2).body

    second = list_traces(user, project, limit=2, cursor=first["next_cursor"]).body

    assert [row["trace_id"] for row in first["traces"] + second["traces"]] == ids
    assert second["range"] == first["range"]
    assert second["totals"] == first["totals"]


def test_a_cursor_must_continue_the_same_listing(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    for i in range(3):
        simple_trace(clickhouse, project, start=NOW - timedelta(hours=i + 1))
    cursor = list_traces(user, project, limit=1).body["next_cursor"]

    for change in ({"order_by": "duration"}, {"sort_order": "asc"}, {"query": "x"}, {"offset": 1}):
        result = list_traces(user, project, limit=1, cursor=cursor, **change)
        assert (result.status, result.body["error_code"], result.body["details"]) == (
            400,
            "VALIDATION_ERROR",
            {"field": "cursor"},
        )


def _forged(fields: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        _forged({"o": "start_time"}),
        _forged({"o": "start_time", "d": "desc", "s": 0, "e": 1, "f": "x", "k": "1) OR 1=1 --", "t": "0" * 32}),
        _forged({"o": "start_time", "d": "desc", "s": 0, "e": 1, "f": "x", "k": "1", "t": "'; DROP TABLE otel_traces"}),
    ],
)
def test_a_malformed_or_forged_cursor_is_rejected(user: User, project: uuid.UUID, cursor: str) -> None:
    result = list_traces(user, project, cursor=cursor)

    assert (result.status, result.body["error_code"]) == (400, "VALIDATION_ERROR")


def test_a_project_of_another_organization_is_not_found(
    clickhouse: ClickHouse, admin: psycopg.Connection[Any], user: User, other_user: User
) -> None:
    theirs = create_project(admin, other_user.id)
    trace_id = simple_trace(clickhouse, theirs)

    for path in ("/v4/traces", f"/v4/traces/{trace_id}", "/v4/meterics/project"):
        result = invoke("GET", path, headers=user.auth, query={"project_id": str(theirs)})
        assert (result.status, result.body["error_code"]) == (404, "NOT_FOUND"), path


def test_an_unknown_project_is_not_found_the_same_way(user: User) -> None:
    result = list_traces(user, uuid.uuid4())

    assert (result.status, result.body["error_code"], result.body["error"]) == (404, "NOT_FOUND", "Project not found.")


def test_another_projects_trace_is_not_found_through_ones_own_project(
    clickhouse: ClickHouse, admin: psycopg.Connection[Any], user: User, project: uuid.UUID
) -> None:
    also_mine = create_project(admin, user.id)
    trace_id = simple_trace(clickhouse, also_mine)

    result = invoke("GET", f"/v4/traces/{trace_id}", headers=user.auth, query={"project_id": str(project)})

    assert (result.status, result.body["error_code"]) == (404, "NOT_FOUND")


def test_traces_need_a_token(project: uuid.UUID) -> None:
    result = invoke("GET", "/v4/traces", query={"project_id": str(project)})

    assert (result.status, result.body["error_code"]) == (401, "UNAUTHORIZED")


INJECTIONS = ["' OR 1=1 --", "x'); DROP TABLE otel_traces; --", "{project_id:String}", "\\' OR \\'1\\'=\\'1", "\x00"]


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize("name", ["span_name", "query"])
def test_injection_in_free_text_parameters_is_harmless(
    clickhouse: ClickHouse, user: User, project: uuid.UUID, name: str, payload: str
) -> None:
    simple_trace(clickhouse, project)

    result = list_traces(user, project, **{name: payload})

    assert result.status == 200
    assert result.body["traces"] == []
    assert list_traces(user, project).body["totals"]["traces"] == 1


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize("name", ["project_id", "start_time", "end_time", "order_by", "sort_order", "limit", "offset", "cursor"])
def test_injection_in_typed_parameters_is_a_validation_error(user: User, project: uuid.UUID, name: str, payload: str) -> None:
    result = list_traces(user, project, **{name: payload})

    assert (result.status, result.body["error_code"]) == (400, "VALIDATION_ERROR")


@pytest.mark.parametrize("payload", ["' OR 1=1 --", "0" * 31 + "'", "%27%20OR%201%3D1"])
def test_injection_in_the_trace_id_is_a_validation_error(user: User, project: uuid.UUID, payload: str) -> None:
    result = invoke("GET", f"/v4/traces/{payload}", headers=user.auth, query={"project_id": str(project)})

    assert (result.status, result.body["error_code"]) == (400, "VALIDATION_ERROR")
