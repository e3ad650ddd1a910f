"""The ClickHouse schema (clickhouse/*.sql via local/clickhouse_schema.py) on chDB: pricing and error counting as
spans arrive from the OpenTelemetry exporter, on a new install and on a database upgraded from an older schema."""

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from agentmode.clickhouse import ClickHouse
from local.clickhouse_schema import SCHEMA_DIR, apply_schema, current_database
from tests.factories import User
from tests.lambda_invoke import invoke
from tests.trace_data import NOW, Span, create_project, insert_spans, llm_attributes, new_trace_id

ERROR_STATUSES = ["Error", "STATUS_CODE_ERROR", "error", "ERROR", "status_code_error", "Status_Code_Error"]
OTHER_STATUSES = ["Unset", "Ok", "STATUS_CODE_OK", "STATUS_CODE_UNSET", ""]
# gpt-4o-mini in clickhouse/model_prices.csv: 0.15 in, 0.60 out (USD per million tokens).
MINI_1000_IN_500_OUT = Decimal("0.00045")
# The schema as databases deployed before 0005 hold it.
FILES_BEFORE_0005 = ["0001_model_prices.sql", "0002_otel_traces.sql", "0003_trace_summaries.sql", "0004_usage_hourly.sql"]


@contextmanager
def session_in_database(ch: ClickHouse, name: str) -> Iterator[None]:
    """The session's current database is `name` (created if absent) inside the block, as an exporter's would be."""
    previous = current_database(ch)
    ch.command(f"CREATE DATABASE IF NOT EXISTS {name}")
    ch.command(f"USE {name}")
    try:
        yield
    finally:
        ch.command(f"USE {previous}")


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def cost_of(ch: ClickHouse, table: str, trace_id: str) -> Decimal:
    [row] = ch.query(f"SELECT toString(cost) AS cost FROM {table} WHERE TraceId = {{trace_id:String}}", {"trace_id": trace_id})
    return Decimal(row["cost"])


def trace_with_every_status(ch: ClickHouse, project_id: uuid.UUID) -> tuple[str, dict[str, str]]:
    """A root and one child per status spelling, a day ago; returns the trace id and each child's status by span id."""
    trace_id = new_trace_id()
    start = NOW - timedelta(days=1)
    root = Span(trace_id, "agent.run", start=start, duration=timedelta(minutes=1))
    children = [
        Span(trace_id, "tool.call", parent_span_id=root.span_id, start=start + timedelta(seconds=i + 1), status_code=status)
        for i, status in enumerate(ERROR_STATUSES + OTHER_STATUSES)
    ]
    insert_spans(ch, project_id, [root, *children])
    return trace_id, {child.span_id: child.status_code for child in children}


@pytest.fixture
def project(clickhouse: ClickHouse, admin: psycopg.Connection[Any], user: User) -> uuid.UUID:
    """A project of the user's organization; ClickHouse has its schema by then."""
    return create_project(admin, user.id)


@pytest.fixture
def database_before_0005(clickhouse: ClickHouse, tmp_path: Path) -> Iterator[str]:
    """A fresh database holding the schema up to 0004 (prices loaded), current for the test's duration."""
    old_schema = tmp_path / "clickhouse"
    old_schema.mkdir()
    for name in FILES_BEFORE_0005:
        shutil.copy(SCHEMA_DIR / name, old_schema)
    name = unique_name("deployed")
    with session_in_database(clickhouse, name):
        apply_schema(clickhouse, old_schema)
        yield name


def test_a_span_inserted_from_another_database_is_priced(clickhouse: ClickHouse) -> None:
    schema_database = current_database(clickhouse)
    trace_id = new_trace_id()
    span = Span(trace_id, "openai.chat.completion", attributes=llm_attributes("gpt-4o-mini", 1000, 500))

    with session_in_database(clickhouse, unique_name("otel")):
        clickhouse.insert(f"{schema_database}.otel_traces", [span.row(uuid.uuid4())])

    assert cost_of(clickhouse, "otel_traces", trace_id) == MINI_1000_IN_500_OUT


def test_a_span_counts_as_an_error_in_any_casing_of_the_error_status(clickhouse: ClickHouse) -> None:
    trace_id, statuses = trace_with_every_status(clickhouse, uuid.uuid4())

    rows = clickhouse.query(
        "SELECT SpanId, is_error FROM otel_traces WHERE TraceId = {trace_id:String} AND ParentSpanId != ''",
        {"trace_id": trace_id},
    )

    assert {statuses[row["SpanId"]]: row["is_error"] for row in rows} == {
        **{status: 1 for status in ERROR_STATUSES},
        **{status: 0 for status in OTHER_STATUSES},
    }


def test_a_traces_error_count_includes_every_casing(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    trace_id, _ = trace_with_every_status(clickhouse, project)

    result = invoke("GET", "/v4/traces", headers=user.auth, query={"project_id": str(project)})

    assert result.status == 200, result.body
    [row] = result.body["traces"]
    assert (row["trace_id"], row["error_count"]) == (trace_id, len(ERROR_STATUSES))
    assert result.body["totals"]["errors"] == len(ERROR_STATUSES)


def test_a_traces_detail_marks_every_casing_as_an_error(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    trace_id, statuses = trace_with_every_status(clickhouse, project)

    result = invoke("GET", f"/v4/traces/{trace_id}", headers=user.auth, query={"project_id": str(project)})

    assert result.status == 200, result.body
    children = [span for span in result.body["spans"] if span["span_id"] in statuses]
    assert {statuses[span["span_id"]]: span["is_error"] for span in children} == {
        **{status: True for status in ERROR_STATUSES},
        **{status: False for status in OTHER_STATUSES},
    }


def test_metrics_count_errors_in_every_casing(clickhouse: ClickHouse, user: User, project: uuid.UUID) -> None:
    trace_with_every_status(clickhouse, project)

    result = invoke("GET", "/v4/meterics/project", headers=user.auth, query={"project_id": str(project)})

    assert result.status == 200, result.body
    assert result.body["spans"] == {"success": 1 + len(OTHER_STATUSES), "error": len(ERROR_STATUSES)}
    assert result.body["traces"] == {"success": 0, "error": 1}


def test_upgrading_recounts_the_errors_stored_before_it(clickhouse: ClickHouse, database_before_0005: str) -> None:
    project_id = uuid.uuid4()
    trace_id, statuses = trace_with_every_status(clickhouse, project_id)
    params = {"project_id": str(project_id), "trace_id": trace_id}

    apply_schema(clickhouse)

    [summary] = clickhouse.query(
        "SELECT sum(errors) AS errors, sum(spans) AS spans, toString(min(first_span).start) AS start FROM"
        " otel_trace_summaries WHERE project_id = {project_id:String} GROUP BY TraceId",
        params,
    )
    [hourly] = clickhouse.query(
        "SELECT sum(errors) AS errors, sum(spans) AS spans FROM otel_usage_hourly WHERE project_id = {project_id:String}",
        params,
    )
    spans = clickhouse.query("SELECT SpanId, is_error FROM otel_traces WHERE TraceId = {trace_id:String}", params)
    details = clickhouse.query(
        "SELECT JSONExtractString(span, 'span_id') AS span_id, JSONExtractUInt(span, 'is_error') AS is_error"
        " FROM otel_spans_by_trace WHERE TraceId = {trace_id:String}",
        params,
    )
    errors = len(ERROR_STATUSES)
    span_count = 1 + len(statuses)
    assert (summary["errors"], summary["spans"]) == (errors, span_count)
    assert summary["start"] == (NOW - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S.000000000")
    assert (hourly["errors"], hourly["spans"]) == (errors, span_count)
    assert sum(row["is_error"] for row in spans) == errors
    assert sorted(statuses[row["span_id"]] for row in details if row["is_error"]) == sorted(ERROR_STATUSES)


def test_upgrading_prices_spans_inserted_from_another_database(clickhouse: ClickHouse, database_before_0005: str) -> None:
    trace_id = new_trace_id()
    span = Span(trace_id, "openai.chat.completion", attributes=llm_attributes("gpt-4o-mini", 1000, 500))

    apply_schema(clickhouse)
    with session_in_database(clickhouse, unique_name("otel")):
        clickhouse.insert(f"{database_before_0005}.otel_traces", [span.row(uuid.uuid4())])

    assert cost_of(clickhouse, "otel_traces", trace_id) == MINI_1000_IN_500_OUT


def test_the_schema_refuses_a_database_name_that_is_not_an_identifier(clickhouse: ClickHouse) -> None:
    with session_in_database(clickhouse, "`prices-2026`"), pytest.raises(ValueError, match="plain identifier"):
        apply_schema(clickhouse)
