"""The deployed ClickHouse path (clickhouse-connect over HTTP) against the real engine: the HTTP stand-in serving the
session's chDB (tests/clickhouse_http.py). Parameters bind alike, the traces routes answer byte-for-byte what they
answer on chDB in-process, and the server's errors map as in production."""

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, get_args

import psycopg
import pytest

from agentmode.clickhouse import (
    ClickHouse,
    ClickHouseServerError,
    EmbeddedClickHouse,
    RemoteClickHouse,
    forget_remote_clients,
    get_clickhouse,
)
from agentmode.settings import get_settings
from local.clickhouse_schema import SCHEMA_DIR, apply_schema, load_model_prices, schema_client, statements
from tests.clickhouse_http import ClickHouseHTTP, Exchange, reading_over_http
from tests.factories import User
from tests.lambda_invoke import Result, invoke
from tests.trace_data import NOW, Span, create_project, insert_spans, llm_attributes, new_trace_id
from traces.cursor import OrderBy

STRINGS = {
    "quote": "it's",
    "backslash": "C:\\temp\\new",
    "tab": "a\tb",
    "newline": "line one\nline two\r\n",
    "nul and backtick": "a\0b`c",
    "unicode": "vidéo 界 🚀",
    "escape lookalikes": "\\N \\t \\' \\\\",
    "url specials": "a&b=c+d%20e#f?g",
    "braces": "{project_id:String}",
}
WINDOW = {"start_time": (NOW - timedelta(days=3)).isoformat(), "end_time": (NOW + timedelta(minutes=1)).isoformat()}
ROUTES = ["/v4/traces", "/v4/traces/{trace_id}", "/v4/meterics/project"]


@pytest.fixture
def embedded(clickhouse: ClickHouse) -> EmbeddedClickHouse:
    assert isinstance(clickhouse, EmbeddedClickHouse)
    return clickhouse


@pytest.fixture
def remote(clickhouse_http: ClickHouseHTTP) -> Iterator[RemoteClickHouse]:
    """The function's own client of the stand-in, as get_clickhouse() makes it in a deployed container."""
    with reading_over_http(clickhouse_http):
        client = get_clickhouse()
        assert isinstance(client, RemoteClickHouse)
        yield client


@pytest.fixture
def project(embedded: EmbeddedClickHouse, admin: psycopg.Connection[Any], user: User) -> uuid.UUID:
    return create_project(admin, user.id)


def served_since(server: ClickHouseHTTP, count: int) -> list[Exchange]:
    return server.exchanges[count:]


def get(user: User, path: str, project: uuid.UUID, **query: Any) -> Result:
    return invoke("GET", path, headers=user.auth, query={"project_id": str(project), **query})


def test_query_bytes_reads_parameters_in_the_escaped_text_form_as_sent(embedded: EmbeddedClickHouse) -> None:
    answer = embedded.query_bytes("SELECT {s:String}", "TabSeparatedRaw", {"s": "a\\tb\\\\c"})

    assert answer.data == b"a\tb\\c\n"
    assert answer.read_rows == 1


def test_query_bytes_in_another_database_leaves_the_sessions_own(embedded: EmbeddedClickHouse) -> None:
    answer = embedded.query_bytes("SELECT currentDatabase()", "TabSeparatedRaw", {}, database="system")

    assert answer.data == b"system\n"
    assert embedded.query("SELECT currentDatabase() AS name", {}) == [{"name": "default"}]


def test_query_bytes_in_an_unknown_database_fails_and_leaves_the_sessions_own(embedded: EmbeddedClickHouse) -> None:
    with pytest.raises(RuntimeError, match="UNKNOWN_DATABASE"):
        embedded.query_bytes("SELECT 1", "TabSeparatedRaw", {}, database="no_such_database")

    assert embedded.query("SELECT currentDatabase() AS name", {}) == [{"name": "default"}]


@pytest.mark.parametrize("value", list(STRINGS.values()), ids=list(STRINGS))
def test_a_string_parameter_binds_over_http_as_it_does_in_process(
    value: str, remote: RemoteClickHouse, embedded: EmbeddedClickHouse
) -> None:
    """The client escapes the value for the URL, the server unescapes and binds it: nothing may change on the way."""
    sql = "SELECT {s:String} AS s, length({s:String}) AS bytes"

    over_http = remote.query(sql, {"s": value})

    assert over_http == [{"s": value, "bytes": len(value.encode())}]
    assert over_http == embedded.query(sql, {"s": value})


def test_parameters_too_long_for_a_url_go_in_a_form_and_bind_the_same(
    remote: RemoteClickHouse, clickhouse_http: ClickHouseHTTP
) -> None:
    value = "界'\\\t\n" * 1000
    count = len(clickhouse_http.exchanges)

    assert remote.query("SELECT {s:String} AS s", {"s": value}) == [{"s": value}]
    [exchange] = served_since(clickhouse_http, count)
    assert exchange.request_headers["content-type"].startswith("multipart/form-data")


def test_answers_come_gzip_compressed_and_are_decompressed(remote: RemoteClickHouse, clickhouse_http: ClickHouseHTTP) -> None:
    """The client accepts gzip only (the zlib module decodes it, nothing more to import); the server compresses."""
    count = len(clickhouse_http.exchanges)

    assert remote.query("SELECT toDecimal128('1.5', 10) AS cost", {}) == [{"cost": pytest.approx(1.5)}]
    [exchange] = served_since(clickhouse_http, count)
    assert exchange.request_headers["accept-encoding"] == "gzip"
    assert exchange.reply_headers["Content-Encoding"] == "gzip"


def test_an_unknown_table_is_a_server_error_with_the_servers_code(
    remote: RemoteClickHouse, clickhouse_http: ClickHouseHTTP
) -> None:
    count = len(clickhouse_http.exchanges)

    with pytest.raises(ClickHouseServerError) as raised:
        remote.query("SELECT * FROM no_such_table", {})

    assert raised.value.code == 60
    [exchange] = served_since(clickhouse_http, count)
    assert (exchange.status, exchange.reply_headers["X-ClickHouse-Exception-Code"]) == (404, "60")


def test_the_clients_settings_reach_the_engine_for_that_query_alone(
    clickhouse_http: ClickHouseHTTP, embedded: EmbeddedClickHouse
) -> None:
    """The function's max_execution_time (CLICKHOUSE_QUERY_TIMEOUT_SECONDS) is a setting of each request: the engine
    applies it to that query and keeps its own for the rest of the session."""
    with reading_over_http(clickhouse_http, CLICKHOUSE_QUERY_TIMEOUT_SECONDS="7"):
        client = RemoteClickHouse(get_settings(), "")

    assert client.query("SELECT getSetting('max_execution_time') AS limit", {}) == [{"limit": 7}]
    assert embedded.query("SELECT getSetting('max_execution_time') AS limit", {}) == [{"limit": 10}]


@pytest.fixture
def engine_time_limit(remote: RemoteClickHouse, clickhouse_http: ClickHouseHTTP) -> Iterator[None]:
    """A server whose profile allows queries a microsecond: the engine itself stops every query that reads a row (the
    function's client was made before: its own first queries would be stopped too)."""
    clickhouse_http.forced_settings = {"max_execution_time": "0.000001"}
    yield
    clickhouse_http.forced_settings = {}


@pytest.mark.usefixtures("engine_time_limit")
@pytest.mark.parametrize("route", ROUTES)
def test_a_traces_query_the_engine_times_out_is_a_503(
    route: str, embedded: EmbeddedClickHouse, user: User, project: uuid.UUID, clickhouse_http: ClickHouseHTTP
) -> None:
    trace_id = new_trace_id()
    insert_spans(embedded, project, [Span(trace_id, attributes=llm_attributes("gpt-4o", 10, 5))])
    count = len(clickhouse_http.exchanges)

    with reading_over_http(clickhouse_http):
        result = get(user, route.format(trace_id=trace_id), project, **WINDOW)

    assert (result.status, result.body["error_code"]) == (503, "SERVICE_UNAVAILABLE")
    assert result.body["details"] == {"service": "clickhouse", "reason": "query failed to complete", "retry_after_ms": 1000}
    assert [e.reply_headers.get("X-ClickHouse-Exception-Code") for e in served_since(clickhouse_http, count)] == ["159"]


@pytest.mark.parametrize("route", ROUTES)
def test_a_database_without_the_schema_answers_500_and_shows_nothing_of_clickhouse(
    route: str, user: User, project: uuid.UUID, clickhouse_http: ClickHouseHTTP
) -> None:
    """CLICKHOUSE_DATABASE reaches the server as the request's `database`: here one without the tables (UNKNOWN_TABLE, a
    bug of the deployment, not a retry)."""
    count = len(clickhouse_http.exchanges)

    with reading_over_http(clickhouse_http, CLICKHOUSE_DATABASE="system"):
        result = get(user, route.format(trace_id=new_trace_id()), project, **WINDOW)

    assert (result.status, result.body["error_code"]) == (500, "INTERNAL_ERROR")
    assert not [word for word in ("Code:", "Exception", "otel_", "UNKNOWN_TABLE", "127.0.0.1") if word in json.dumps(result.body)]
    codes = [e.reply_headers.get("X-ClickHouse-Exception-Code") for e in served_since(clickhouse_http, count)]
    assert codes[-1] == "60"


def rich_traces(ch: EmbeddedClickHouse, project: uuid.UUID) -> list[str]:
    """Traces whose columns span the types the routes convert: Decimal costs (priced, given, negative, tiny),
    DateTime64 starts across midnight and cut hours, Map attributes and events, Array tags, unicode and quotes."""
    midnight = NOW.replace(hour=0, minute=0, second=0) - timedelta(days=1)
    traces = []
    for index, start in enumerate(
        [midnight - timedelta(minutes=7), NOW - timedelta(hours=5, minutes=13), NOW - timedelta(hours=1)]
    ):
        trace_id = new_trace_id()
        root = Span(
            trace_id,
            f"vidéo.run «{index}» it's",
            start=start + timedelta(microseconds=123_456),
            duration=timedelta(minutes=3 + index, microseconds=789),
            attributes={"agentops.tags": '["prod", "ünïcode", "a\\"quote"]'},
        )
        spans = [
            root,
            Span(
                trace_id,
                "openai.chat.completion",
                parent_span_id=root.span_id,
                start=start + timedelta(seconds=1 + index),
                attributes=llm_attributes("gpt-4o", 1_000_003 * (index + 1), 7_001, **{"gen_ai.usage.cache_read_tokens": "11"}),
                events=[(start + timedelta(seconds=2), "chunk\t1", {"k": "v\n", "界": "🚀"})],
            ),
            Span(
                trace_id,
                "tool.search",
                parent_span_id=root.span_id,
                start=start + timedelta(seconds=3),
                status_code="Error" if index != 1 else "Unset",
                status_message="Timeout: 'upstream'\\slow",
                attributes={"gen_ai.usage.total_cost": ["0.0000000001", "-2.5", "123.4567891234"][index]},
            ),
        ]
        insert_spans(ch, project, spans)
        traces.append(trace_id)
    return traces


def answers(user: User, project: uuid.UUID, trace_ids: list[str]) -> list[tuple[int, Any]]:
    """Every kind of read of the project: each sort both ways, a cursor walk, filters, each trace, the metrics."""
    results = [
        get(user, "/v4/traces", project, order_by=order_by, sort_order=direction, **WINDOW)
        for order_by in get_args(OrderBy)
        for direction in ("asc", "desc")
    ]
    page = get(user, "/v4/traces", project, limit=1, order_by="total_cost", **WINDOW)
    results.append(page)
    while page.status == 200 and page.body["next_cursor"]:
        page = get(user, "/v4/traces", project, limit=1, order_by="total_cost", cursor=page.body["next_cursor"], **WINDOW)
        results.append(page)
    results.append(get(user, "/v4/traces", project, span_name="tool.search", query="ünï", **WINDOW))
    results += [get(user, f"/v4/traces/{trace_id}", project) for trace_id in trace_ids]
    cut = {"start_time": (NOW - timedelta(days=2, minutes=31)).isoformat(), "end_time": (NOW - timedelta(minutes=17)).isoformat()}
    results += [get(user, "/v4/meterics/project", project, **WINDOW), get(user, "/v4/metrics/project", project, **cut)]
    return [(result.status, result.body) for result in results]


def test_the_traces_routes_answer_the_same_bodies_over_http_as_in_process(
    embedded: EmbeddedClickHouse, user: User, project: uuid.UUID, clickhouse_http: ClickHouseHTTP
) -> None:
    trace_ids = rich_traces(embedded, project)
    in_process = answers(user, project, trace_ids)
    count = len(clickhouse_http.exchanges)

    with reading_over_http(clickhouse_http):
        over_http = answers(user, project, trace_ids)

    assert {status for status, _ in in_process} == {200}
    assert len(in_process[0][1]["traces"]) == len(trace_ids)
    assert over_http == in_process
    assert len(served_since(clickhouse_http, count)) >= len(in_process)


def test_a_list_filtered_by_long_unicode_text_is_sent_as_a_form_and_finds_the_trace(
    embedded: EmbeddedClickHouse, user: User, project: uuid.UUID, clickhouse_http: ClickHouseHTTP
) -> None:
    """The longest filters the route takes (256 characters each) outgrow clickhouse-connect's URL limit once escaped."""
    name = "界'\\\"\t\n" + "界" * 250
    trace_id = new_trace_id()
    insert_spans(embedded, project, [Span(trace_id, name, attributes={"agentops.tags": '["x"]'})])
    filters = {"span_name": name, "query": name[:200], **WINDOW}
    in_process = get(user, "/v4/traces", project, **filters)
    count = len(clickhouse_http.exchanges)

    with reading_over_http(clickhouse_http):
        over_http = get(user, "/v4/traces", project, **filters)

    assert [row["root_span_name"] for row in in_process.body["traces"]] == [name]
    assert (over_http.status, over_http.body) == (in_process.status, in_process.body)
    [exchange] = served_since(clickhouse_http, count)
    assert exchange.request_headers["content-type"].startswith("multipart/form-data")


@pytest.fixture
def fresh_database(embedded: EmbeddedClickHouse) -> Iterator[str]:
    name = f"deploy_{uuid.uuid4().hex}"
    embedded.command(f"CREATE DATABASE {name}")
    yield name
    embedded.command(f"DROP DATABASE {name} SYNC")


def test_the_schema_applies_through_clickhouse_connect_and_the_function_reads_it(
    fresh_database: str, embedded: EmbeddedClickHouse, user: User, project: uuid.UUID, clickhouse_http: ClickHouseHTTP
) -> None:
    """`make clickhouse-schema` against a server, into CLICKHOUSE_DATABASE: DDL, commands with parameters, the price
    table; then spans priced by it, read by the function from that database."""
    with reading_over_http(clickhouse_http, CLICKHOUSE_DATABASE=fresh_database):
        applied = apply_schema(schema_client())
        trace_id = new_trace_id()
        spans = [Span(trace_id, attributes=llm_attributes("gpt-4o", 1_000_000, 100_000))]
        embedded.insert(f"{fresh_database}.otel_traces", [span.row(project) for span in spans])
        result = get(user, "/v4/traces", project, **WINDOW)

    assert applied == sorted(path.name for path in SCHEMA_DIR.glob("*.sql"))
    assert result.status == 200, result.body
    [row] = result.body["traces"]
    assert (row["trace_id"], row["total_cost"]) == (trace_id, pytest.approx(2.5 + 1.0))


def test_the_price_table_loads_through_a_native_insert_as_it_does_in_process(
    fresh_database: str, embedded: EmbeddedClickHouse, clickhouse_http: ClickHouseHTTP
) -> None:
    """`make clickhouse-schema`'s insert: clickhouse-connect's Native insert, lz4-compressed and chunked, into
    CLICKHOUSE_DATABASE."""
    with reading_over_http(clickhouse_http, CLICKHOUSE_DATABASE=fresh_database):
        remote = schema_client()
        for statement in statements((SCHEMA_DIR / "0001_model_prices.sql").read_text()):
            remote.command(statement)
        count = len(clickhouse_http.exchanges)
        loaded = load_model_prices(remote)

    prices = "SELECT model, input_per_million, output_per_million, cache_read_per_million FROM {table} ORDER BY model"
    rows = embedded.query(prices.format(table=f"{fresh_database}.model_prices"), {})
    assert len(rows) == loaded
    assert rows == embedded.query(prices.format(table="model_prices"), {})
    [insert] = [e for e in served_since(clickhouse_http, count) if e.request_headers.get("content-encoding")]
    assert (insert.request_headers["content-encoding"], insert.request_headers["transfer-encoding"]) == ("lz4", "chunked")


def test_the_functions_client_inserts_rows_as_the_embedded_engine_does(
    fresh_database: str, embedded: EmbeddedClickHouse, clickhouse_http: ClickHouseHTTP
) -> None:
    with reading_over_http(clickhouse_http, CLICKHOUSE_DATABASE=fresh_database):
        remote = get_clickhouse()
        for statement in statements((SCHEMA_DIR / "0001_model_prices.sql").read_text()):
            remote.command(statement)
        loaded = load_model_prices(remote)

    prices = "SELECT model, input_per_million, output_per_million, cache_read_per_million FROM {table} ORDER BY model"
    rows = embedded.query(prices.format(table=f"{fresh_database}.model_prices"), {})
    assert len(rows) == loaded
    assert rows == embedded.query(prices.format(table="model_prices"), {})


def test_a_new_client_sends_nothing_before_its_first_statement_which_is_one_request(
    clickhouse_http: ClickHouseHTTP,
) -> None:
    """No set-up round trips (version, settings, protocol probe) on a new container's first request."""
    forget_remote_clients()  # a new container's
    before = len(clickhouse_http.exchanges)
    with reading_over_http(clickhouse_http):
        client = get_clickhouse()
        created = len(clickhouse_http.exchanges)
        client.query("SELECT 1 AS one", {})

    assert created == before
    [exchange] = served_since(clickhouse_http, before)
    assert "client_protocol_version" not in exchange.fields
