"""Cursor keys at the edges of their column types (Int64, UInt64, Decimal128(10)), through real chDB queries."""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from agentmode.clickhouse import ClickHouse
from agentmode.settings import get_settings
from tests.factories import User, create_user
from tests.functional.test_traces_cursor import walk_pages
from tests.functional.test_traces_list import list_traces
from tests.trace_data import NOW, Span, create_project, insert_spans, llm_attributes, new_trace_id
from traces import cursor as cursors
from traces.time_range import EARLIEST_NS, LATEST_NS, to_ns

# Each test runs on both ClickHouse paths, ids [chdb] and [http] (tests/functional/conftest.py).
pytestmark = pytest.mark.usefixtures("clickhouse_path")

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT64_MAX = 2**64 - 1
COST_MAX = Decimal("9" * 28 + "." + "9" * 10)
COST_MIN = Decimal("-" + "9" * 28 + "." + "9" * 10)
LOWEST_ID, HIGHEST_ID = "0" * 32, "f" * 32


@dataclass(frozen=True)
class Stored:
    """A trace as written, with the sort keys it must have."""

    trace_id: str
    keys: dict[str, Decimal]


@dataclass(frozen=True)
class Listing:
    owner: User
    project: uuid.UUID
    traces: list[Stored]


def _trace(ch: ClickHouse, project: uuid.UUID, start_ago: timedelta, spans: list[dict[str, Any]]) -> str:
    trace_id = new_trace_id()
    root = Span(trace_id, "edge.run", start=NOW - start_ago, **spans[0])
    children = [Span(trace_id, "edge.step", parent_span_id=root.span_id, **child) for child in spans[1:]]
    insert_spans(ch, project, [root, *children])
    return trace_id


@pytest.fixture(scope="module")
def edges(clickhouse: ClickHouse, admin: psycopg.Connection[Any]) -> Listing:
    """Three traces holding negative and tiny costs, UInt64's largest token count, and ties on start and duration."""
    owner = create_user(admin)
    project = create_project(admin, owner.id)
    start = NOW - timedelta(hours=2)
    negative = _trace(clickhouse, project, timedelta(hours=2), [{"attributes": {"gen_ai.usage.total_cost": "-2.5"}}])
    largest = _trace(
        clickhouse,
        project,
        timedelta(hours=2),
        [
            {"duration": timedelta(seconds=3)},
            {
                "start": start + timedelta(seconds=1),
                "status_code": "Error",
                "attributes": llm_attributes("gpt-4o-mini", UINT64_MAX, 0, **{"gen_ai.usage.total_cost": "0.0000000001"}),
            },
        ],
    )
    plain = _trace(
        clickhouse,
        project,
        timedelta(hours=3),
        [{"attributes": llm_attributes("x", 100, 50, **{"gen_ai.usage.total_cost": "0"})}],
    )
    second = 1_000_000_000
    return Listing(
        owner,
        project,
        [
            Stored(negative, _keys(to_ns(start), second, 1, 0, 0, "-2.5")),
            Stored(largest, _keys(to_ns(start), 3 * second, 2, 1, UINT64_MAX, "0.0000000001")),
            Stored(plain, _keys(to_ns(start - timedelta(hours=1)), second, 1, 0, 150, "0")),
        ],
    )


def _keys(start_ns: int, duration_ns: int, spans: int, errors: int, tokens: int, cost: str) -> dict[str, Decimal]:
    values = (start_ns, duration_ns, spans, errors, tokens, cost)
    names = ("start_time", "duration", "span_count", "error_count", "total_tokens", "total_cost")
    return {name: Decimal(value) for name, value in zip(names, values, strict=True)}


def _order(listing: Listing, order_by: str, sort_order: str, after: tuple[Decimal, str] | None = None) -> list[str]:
    """The trace ids a listing must show, by (key, trace id), strictly after `after` in the walk's direction."""
    rows = sorted(((stored.keys[order_by], stored.trace_id) for stored in listing.traces), reverse=sort_order == "desc")
    if after is not None:
        rows = [row for row in rows if (row > after if sort_order == "asc" else row < after)]
    return [trace_id for _, trace_id in rows]


def _signed(listing: Listing, order_by: str, sort_order: str, key: str, trace_id: str) -> str:
    """A cursor as the service would sign it, for a range holding every trace of the listing."""
    position = cursors.Cursor(
        o=order_by,
        d=sort_order,
        s=to_ns(NOW - timedelta(days=1)),
        e=to_ns(NOW + timedelta(hours=1)),
        k=key,
        t=trace_id,
    )
    fingerprint = cursors.filters_fingerprint(str(listing.project), None, None)
    return cursors.sign(position, fingerprint, cursors.signing_key(get_settings()))


ORDERS = ["start_time", "duration", "span_count", "error_count", "total_tokens", "total_cost"]


@pytest.mark.parametrize("sort_order", ["asc", "desc"])
@pytest.mark.parametrize("order_by", ORDERS)
def test_a_walk_over_extreme_stored_values_visits_each_trace_once_in_order(
    edges: Listing, order_by: str, sort_order: str
) -> None:
    pages = list(walk_pages(edges.owner, edges.project, 1, order_by=order_by, sort_order=sort_order))

    assert [row["trace_id"] for page in pages for row in page["traces"]] == _order(edges, order_by, sort_order)
    assert all(page["traces"] for page in pages)


# As the service writes them (ClickHouse's toString): plain digits, never an exponent.
EDGE_KEYS = {
    "start_time": [str(INT64_MIN), "-1", "0", str(INT64_MAX)],
    "duration": [str(INT64_MIN), "-1", "0", "3000000000", str(INT64_MAX)],
    "span_count": ["0", "1", str(2**63), str(UINT64_MAX)],
    "error_count": ["0", str(UINT64_MAX)],
    "total_tokens": ["0", str(2**63), str(UINT64_MAX)],
    "total_cost": [
        f"{COST_MIN:f}",
        "-2.5",
        "-0.0000000001",
        "0",
        "0.0000000001",
        "1234567890123456789012345678.0123456789",
        f"{COST_MAX:f}",
    ],
}


@pytest.mark.parametrize("sort_order", ["asc", "desc"])
@pytest.mark.parametrize(("order_by", "key"), [(order_by, key) for order_by, keys in EDGE_KEYS.items() for key in keys], ids=str)
def test_a_cursor_at_any_value_its_column_holds_reads_the_rows_beyond_it(
    edges: Listing, order_by: str, key: str, sort_order: str
) -> None:
    # The trace id that keeps rows tied with the key on the page, so a tie is compared as well as passed.
    trace_id = LOWEST_ID if sort_order == "asc" else HIGHEST_ID
    cursor = _signed(edges, order_by, sort_order, key, trace_id)

    result = list_traces(edges.owner, edges.project, order_by=order_by, sort_order=sort_order, cursor=cursor)

    assert result.status == 200, result.body
    expected = _order(edges, order_by, sort_order, after=(Decimal(key), trace_id))
    assert [row["trace_id"] for row in result.body["traces"]] == expected


UNBINDABLE: dict[str, dict[str, Any]] = {
    "start_time key above Int64": {"order_by": "start_time", "key": str(INT64_MAX + 1)},
    "duration key below Int64": {"order_by": "duration", "key": str(INT64_MIN - 1)},
    "negative span_count key": {"order_by": "span_count", "key": "-1"},
    "error_count key above UInt64": {"order_by": "error_count", "key": str(UINT64_MAX + 1)},
    "fractional total_tokens key": {"order_by": "total_tokens", "key": "1.5"},
    "29-digit cost key": {"order_by": "total_cost", "key": "1" + "0" * 28},
    "29-digit negative cost key": {"order_by": "total_cost", "key": "-1" + "0" * 28},
    "30-digit negative cost key": {"order_by": "total_cost", "key": "-" + "9" * 29},
    "cost key with 11 decimal places": {"order_by": "total_cost", "key": "0.00000000001"},
    "key with an exponent": {"order_by": "start_time", "key": "1e5"},
    "start before what ClickHouse holds": {"start_ns": EARLIEST_NS - 1},
    "start after what ClickHouse holds": {"start_ns": LATEST_NS + 1},
    "end before what ClickHouse holds": {"end_ns": EARLIEST_NS - 1},
    "end after what ClickHouse holds": {"end_ns": LATEST_NS + 1},
    "trace id not hex": {"trace_id": "g" * 32},
    "trace id too short": {"trace_id": "a" * 31},
}


@pytest.mark.parametrize("change", UNBINDABLE.values(), ids=list(UNBINDABLE))
def test_a_signed_cursor_holding_what_the_query_cannot_bind_is_a_validation_error(edges: Listing, change: dict[str, Any]) -> None:
    """Defence behind the signature: a value its parameter's type cannot hold never reaches ClickHouse."""
    fields = {
        "order_by": "start_time",
        "sort_order": "asc",
        "start_ns": to_ns(NOW - timedelta(days=1)),
        "end_ns": to_ns(NOW),
        "key": "0",
        "trace_id": LOWEST_ID,
        **change,
    }
    fingerprint = cursors.filters_fingerprint(str(edges.project), None, None)
    cursor = cursors.sign(cursors.Cursor.model_construct(**fields), fingerprint, cursors.signing_key(get_settings()))

    result = list_traces(edges.owner, edges.project, order_by=fields["order_by"], sort_order="asc", cursor=cursor)

    assert (result.status, result.body["error_code"], result.body["details"]) == (400, "VALIDATION_ERROR", {"field": "cursor"})
