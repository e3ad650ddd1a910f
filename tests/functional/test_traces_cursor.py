"""Keyset pagination of GET /v4/traces, and who may read a project's traces at all."""

import base64
import json
import math
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from agentmode.clickhouse import ClickHouse
from tests.factories import User, create_user
from tests.functional.test_traces_list import SORT_VALUES, list_traces
from tests.lambda_invoke import invoke
from tests.trace_data import NOW, create_project, simple_trace
from traces import cursor as cursors
from traces.time_range import to_ns

# Each test runs on both ClickHouse paths, ids [chdb] and [http] (tests/functional/conftest.py).
pytestmark = pytest.mark.usefixtures("clickhouse_path")


@pytest.fixture
def project(clickhouse: ClickHouse, admin: psycopg.Connection[Any], user: User) -> uuid.UUID:
    """A project of the user's organization; ClickHouse has its schema by then."""
    return create_project(admin, user.id)


def walk_pages(
    user: User, project: uuid.UUID, limit: int, between_pages: Callable[[], None] | None = None, **query: Any
) -> Iterator[dict[str, Any]]:
    """Every page of a cursor walk, the first one included."""
    page = list_traces(user, project, limit=limit, **query).body
    yield page
    while page["next_cursor"] is not None:
        if between_pages:
            between_pages()
        page = list_traces(user, project, limit=limit, cursor=page["next_cursor"], **query).body
        yield page


def walk(user: User, project: uuid.UUID, between_pages: Callable[[], None] | None = None, **query: Any) -> list[str]:
    return [row["trace_id"] for page in walk_pages(user, project, 3, between_pages, **query) for row in page["traces"]]


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


TIED_TRACES = 6


@pytest.fixture(scope="module")
def tied(clickhouse: ClickHouse, admin: psycopg.Connection[Any]) -> tuple[User, uuid.UUID]:
    """Six traces in pairs and triples of equal start, duration, span and error counts, tokens and cost."""
    owner = create_user(admin)
    project = create_project(admin, owner.id)
    for i in range(TIED_TRACES):
        simple_trace(
            clickhouse,
            project,
            start=NOW - timedelta(hours=1 + i // 2),
            children=i % 3,
            errors=1 if i % 3 == 2 else 0,
            duration=timedelta(seconds=10 if i < 3 else 20),
        )
    return owner, project


@pytest.mark.parametrize("limit", [2, 4], ids=["ends-at-a-page-boundary", "ends-mid-page"])
@pytest.mark.parametrize("sort_order", ["asc", "desc"])
@pytest.mark.parametrize("order_by", list(SORT_VALUES))
def test_a_cursor_walk_over_ties_visits_each_trace_once_in_order(
    tied: tuple[User, uuid.UUID], order_by: str, sort_order: str, limit: int
) -> None:
    owner, project = tied
    rows = list_traces(owner, project, limit=100, order_by=order_by, sort_order=sort_order).body["traces"]
    expected = sorted(rows, key=lambda row: (SORT_VALUES[order_by](row), row["trace_id"]), reverse=sort_order == "desc")

    pages = list(walk_pages(owner, project, limit, order_by=order_by, sort_order=sort_order))

    assert [row["trace_id"] for row in rows] == [row["trace_id"] for row in expected]
    assert [row["trace_id"] for page in pages for row in page["traces"]] == [row["trace_id"] for row in expected]
    assert len(pages) == math.ceil(TIED_TRACES / limit), "a next_cursor led to an empty page"
    assert all(page["traces"] for page in pages)


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

    for change in ({"order_by": "duration"}, {"sort_order": "asc"}, {"query": "x"}, {"span_name": "agent.run"}, {"offset": 1}):
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
        "a.b",
        _forged({"o": "start_time"}),
        _forged({"o": "start_time", "d": "desc", "s": 0, "e": 1, "f": "x", "k": "1) OR 1=1 --", "t": "0" * 32}),
        _forged({"o": "start_time", "d": "desc", "s": 0, "e": 1, "f": "x", "k": "1", "t": "'; DROP TABLE otel_traces"}),
    ],
)
def test_a_malformed_or_forged_cursor_is_rejected(user: User, project: uuid.UUID, cursor: str) -> None:
    result = list_traces(user, project, cursor=cursor)

    assert (result.status, result.body["error_code"], result.body["details"]) == (400, "VALIDATION_ERROR", {"field": "cursor"})


def cursor_payload(cursor: str) -> dict[str, Any]:
    payload = cursor.split(".")[0]
    fields: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return fields


def _with_payload(cursor: str, change: dict[str, Any]) -> str:
    return f"{_forged({**cursor_payload(cursor), **change})}.{cursor.split('.')[1]}"


TAMPERINGS: dict[str, Callable[[str], str]] = {
    "range moved back 30 days": lambda cursor: _with_payload(cursor, {"s": to_ns(NOW - timedelta(days=30))}),
    "key changed": lambda cursor: _with_payload(cursor, {"k": "0"}),
    "sort changed": lambda cursor: _with_payload(cursor, {"d": "asc"}),
    "truncated by one character": lambda cursor: cursor[:-1],
    "mac dropped": lambda cursor: cursor.split(".")[0],
    "mac only": lambda cursor: "." + cursor.split(".")[1],
    "a character appended": lambda cursor: cursor + "A",
    "padding appended": lambda cursor: cursor + "=",
    "mac of the other half swapped in": lambda cursor: ".".join(reversed(cursor.split("."))),
}


def test_a_tampered_cursor_is_rejected(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    for i in range(2):
        simple_trace(clickhouse, project, start=NOW - timedelta(hours=i + 1))
    cursor = list_traces(user, project, limit=1).body["next_cursor"]
    assert list_traces(user, project, limit=1, cursor=cursor).status == 200

    for name, tamper in TAMPERINGS.items():
        result = list_traces(user, project, limit=1, cursor=tamper(cursor))
        assert (result.status, result.body["error_code"], result.body["details"]) == (
            400,
            "VALIDATION_ERROR",
            {"field": "cursor"},
        ), name


def test_a_cursor_signed_with_another_key_is_rejected(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    for i in range(2):
        simple_trace(clickhouse, project, start=NOW - timedelta(hours=i + 1))
    cursor = list_traces(user, project, limit=1).body["next_cursor"]
    position = cursors.Cursor.model_validate(cursor_payload(cursor))

    resigned = cursors.sign(position, cursors.filters_fingerprint(str(project), None, None), b"not the service's key")
    result = list_traces(user, project, limit=1, cursor=resigned)

    assert (result.status, result.body["error_code"], result.body["details"]) == (400, "VALIDATION_ERROR", {"field": "cursor"})


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
