"""Traces on ClickHouse at 10M spans: list (first and 50th page, with totals), detail and 30-day metrics on chDB.

    python -m bench.traces [--quick]

Loads 50 projects x 4,000 traces x 50 spans over 30 days (10,000,000 spans) into chDB under .local/bench-traces once
(reused while its row count matches), each trace's spans in two inserts as exporters batch them. Then times the
traces function's query layer in-process, against random projects and traces, and the plain GROUP BY over spans that
the per-trace summaries replace. Prints a table and writes traces.json into the results folder (bench.results_dir).
"""

import argparse
import importlib.metadata
import random
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from local.lambda_runtime import use_layer
from local.stack import ROOT

use_layer()
sys.path.insert(0, str(ROOT / "functions" / "traces"))

from agentmode.clickhouse import EmbeddedClickHouse  # noqa: E402 - the layer is on the path only after use_layer
from bench.machine import machine_info  # noqa: E402
from bench.results_dir import add_publish_flag, results_dir, shown, write_results  # noqa: E402
from local.clickhouse_schema import apply_schema  # noqa: E402
from local.trace_generator import TraceBatch, generate, trace_id_of  # noqa: E402
from traces import cursor as cursors  # noqa: E402
from traces.project_metrics import project_metrics  # noqa: E402
from traces.time_range import EARLIEST_NS, TimeRange, to_ns  # noqa: E402
from traces.trace_detail import trace_detail  # noqa: E402
from traces.trace_list import ListRequest, list_traces  # noqa: E402

DATA_DIR = ROOT / ".local" / "bench-traces"
RESULTS_FILE = "traces.json"
END = datetime(2026, 11, 25, tzinfo=UTC)
DAYS = 30
PAGE = 20
TARGETS_MS = {"list_first_page": 30, "list_page_50_by_cursor": 30, "detail": 15, "metrics_30_days": 100}

# The bar: one list page computed from the spans themselves, per request.
PLAIN_GROUP_BY_SQL = """
SELECT TraceId, min(Timestamp) AS start, max(Timestamp + toIntervalNanosecond(Duration)) AS end, count() AS spans,
       sum(is_error) AS errors, sum(total_tokens) AS tokens, sum(cost) AS cost, count() OVER () AS total
FROM otel_traces
WHERE project_id = {project_id:String}
  AND Timestamp >= fromUnixTimestamp64Nano({start_ns:Int64}, 'UTC') AND Timestamp < fromUnixTimestamp64Nano({end_ns:Int64}, 'UTC')
GROUP BY TraceId ORDER BY start DESC LIMIT 20
"""


# The same, with every field a list row carries (root name, service, tags, token kinds, cost) and the totals.
PLAIN_GROUP_BY_FULL_SQL = """
SELECT TraceId, min(Timestamp) AS start, max(Timestamp + toIntervalNanosecond(Duration)) AS end,
       anyIf(SpanName, ParentSpanId = '') AS root, anyIf(ServiceName, ParentSpanId = '') AS service,
       groupUniqArrayArray(tags) AS tag_list, count() AS spans, sum(is_error) AS errors, sum(prompt_tokens) AS prompt,
       sum(completion_tokens) AS completion, sum(cache_read_tokens) AS cache_read, sum(reasoning_tokens) AS reasoning,
       sum(total_tokens) AS tokens, sum(cost) AS cost_sum, count() OVER () AS total, sum(count()) OVER () AS total_spans,
       sum(sum(total_tokens)) OVER () AS all_tokens, sum(sum(cost)) OVER () AS all_cost
FROM otel_traces
WHERE project_id = {project_id:String}
  AND Timestamp >= fromUnixTimestamp64Nano({start_ns:Int64}, 'UTC') AND Timestamp < fromUnixTimestamp64Nano({end_ns:Int64}, 'UTC')
GROUP BY TraceId ORDER BY start DESC LIMIT 20
"""


def project_ids(count: int) -> list[uuid.UUID]:
    return [uuid.UUID(int=n + 1) for n in range(count)]


def load(ch: EmbeddedClickHouse, projects: int, traces: int, spans: int) -> dict[str, Any]:
    started = time.perf_counter()
    for project in project_ids(projects):
        for span_from, span_to in ((0, spans // 2), (spans // 2, spans)):
            batch = TraceBatch(str(project), traces, spans, END - timedelta(days=DAYS), END, span_from=span_from, span_to=span_to)
            generate(ch, batch)
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 1), "spans_per_s": round(projects * traces * spans / seconds)}


def settle(ch: EmbeddedClickHouse, limit_s: float = 300) -> float:
    """Waits for background merges, as a server would have done between ingestion and the next read."""
    started = time.perf_counter()
    while ch.query("SELECT count() AS n FROM system.merges", {})[0]["n"] and time.perf_counter() - started < limit_s:
        time.sleep(1)
    return round(time.perf_counter() - started, 1)


def timed(runs: int, call: Callable[[int], object]) -> dict[str, float]:
    call(0)  # one warm-up: the first read of a part maps it
    samples = []
    for i in range(runs):
        started = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 2),
        "runs": runs,
    }


# The key of the local and test environments: the bench signs and verifies its own cursors in-process.
CURSOR_KEY = cursors.LOCAL_AND_TEST_ONLY_CURSOR_KEY


def cursor_at_page(ch: EmbeddedClickHouse, request: ListRequest, page: int) -> ListRequest:
    fingerprint = cursors.filters_fingerprint(str(request.project_id), request.span_name, request.query)
    for _ in range(page - 1):
        next_cursor = list_traces(ch, request, CURSOR_KEY).next_cursor
        assert next_cursor is not None, "fewer pages than asked"
        request = replace(request, after=cursors.verify(next_cursor, fingerprint, CURSOR_KEY))
    return request


def measure(ch: EmbeddedClickHouse, projects: int, traces: int, runs: int) -> dict[str, Any]:
    rng = random.Random(7)
    ids = project_ids(projects)
    week = TimeRange(to_ns(END - timedelta(days=7)), to_ns(END))
    month = TimeRange(to_ns(END - timedelta(days=DAYS)), to_ns(END))

    def first_page(i: int, order_by: Any = "start_time") -> object:
        request = ListRequest(ids[i % projects], week, None, None, order_by, "desc", PAGE, 0, None)
        return list_traces(ch, request, CURSOR_KEY)

    page_50 = [cursor_at_page(ch, ListRequest(p, month, None, None, "start_time", "desc", PAGE, 0, None), 50) for p in ids]
    detail_targets = [(ids[n % projects], trace_id_of(1, str(ids[n % projects]), rng.randrange(traces))) for n in range(runs + 1)]
    results = {
        "list_first_page": timed(runs, first_page),
        "list_first_page_by_cost": timed(runs, lambda i: first_page(i, "total_cost")),
        "list_first_page_span_name_filter": timed(
            runs,
            lambda i: list_traces(
                ch,
                ListRequest(ids[i % projects], week, "tool.render_video", None, "start_time", "desc", PAGE, 0, None),
                CURSOR_KEY,
            ),
        ),
        "list_page_50_by_cursor": timed(runs, lambda i: list_traces(ch, page_50[i % projects], CURSOR_KEY)),
        "list_page_50_by_offset": timed(
            runs,
            lambda i: list_traces(
                ch,
                ListRequest(ids[i % projects], month, None, None, "start_time", "desc", PAGE, 49 * PAGE, None),
                CURSOR_KEY,
            ),
        ),
        "detail": timed(runs, lambda i: trace_detail(ch, *detail_targets[i], 10_000, earliest_ns=EARLIEST_NS)),
        "metrics_30_days": timed(runs, lambda i: project_metrics(ch, ids[i % projects], month)),
        "plain_group_by_list_page": timed(
            runs,
            lambda i: ch.query(
                PLAIN_GROUP_BY_SQL, {"project_id": str(ids[i % projects]), "start_ns": week.start_ns, "end_ns": week.end_ns}
            ),
        ),
        "plain_group_by_same_fields": timed(
            runs,
            lambda i: ch.query(
                PLAIN_GROUP_BY_FULL_SQL, {"project_id": str(ids[i % projects]), "start_ns": week.start_ns, "end_ns": week.end_ns}
            ),
        ),
        "select_1": timed(runs, lambda i: ch.query("SELECT 1", {})),
    }
    return results


def check(ch: EmbeddedClickHouse, projects: int) -> dict[str, Any]:
    """The summaries agree with the spans: counts, errors, tokens and cost of one project's 7 days, summed both ways."""
    project = str(project_ids(projects)[0])
    week = TimeRange(to_ns(END - timedelta(days=7)), to_ns(END))
    listed = list_traces(
        ch, ListRequest(uuid.UUID(project), week, None, None, "start_time", "desc", 1, 0, None), CURSOR_KEY
    ).totals
    [raw] = ch.query(
        "SELECT uniqExact(TraceId) AS traces, count() AS spans, sum(is_error) AS errors, sum(total_tokens) AS tokens,"
        " toFloat64(sum(cost)) AS cost FROM otel_traces WHERE project_id = {p:String} AND TraceId IN ("
        "  SELECT TraceId FROM otel_traces WHERE project_id = {p:String}"
        "  GROUP BY TraceId HAVING min(Timestamp) >= fromUnixTimestamp64Nano({s:Int64}, 'UTC'))",
        {"p": project, "s": week.start_ns},
    )
    same = (listed.traces, listed.spans, listed.errors, listed.total_tokens) == (
        raw["traces"],
        raw["spans"],
        raw["errors"],
        raw["tokens"],
    )
    return {
        "summaries_equal_spans": same and abs(listed.total_cost - raw["cost"]) < 1e-6,
        "list_totals": listed.model_dump(),
        "spans": raw,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="5 projects x 1,000 traces: a smoke run, not the figures")
    parser.add_argument("--runs", type=int, default=200)
    add_publish_flag(parser)
    args = parser.parse_args()
    projects, traces, spans = (5, 1_000, 50) if args.quick else (50, 4_000, 50)
    data_dir = DATA_DIR.with_name(DATA_DIR.name + ("-quick" if args.quick else ""))
    ch = EmbeddedClickHouse(str(data_dir), 600)
    apply_schema(ch)
    expected = projects * traces * spans
    loaded = None
    if ch.query("SELECT count() AS n FROM otel_traces", {})[0]["n"] != expected:
        ch.command("TRUNCATE TABLE otel_traces")
        for table in ("otel_trace_summaries", "otel_spans_by_trace"):
            ch.command(f"TRUNCATE TABLE {table}")
        loaded = load(ch, projects, traces, spans)
    settled = settle(ch)
    storage = ch.query(
        "SELECT table, sum(rows) AS rows, count() AS parts, round(sum(data_compressed_bytes) / 1e6) AS mb"
        " FROM system.parts WHERE active AND table LIKE 'otel%' GROUP BY table ORDER BY table",
        {},
    )
    results = {
        "data": {
            "projects": projects,
            "traces": projects * traces,
            "spans": expected,
            "days": DAYS,
            "load": loaded,
            "merges_waited_s": settled,
        },
        "machine": {**machine_info(), "chdb": importlib.metadata.version("chdb")},
        "storage": storage,
        "latency": measure(ch, projects, traces, args.runs),
        "correctness": check(ch, projects),
        "targets_ms": TARGETS_MS,
    }
    latency = results["latency"]
    results["targets"] = [
        {"target": f"traces {name} {stat} <= {limit} ms", "value": latency[name][f"{stat}_ms"], "limit": limit, "unit": "ms",
         "pass": latency[name][f"{stat}_ms"] <= limit}
        for name, limit in TARGETS_MS.items()
        for stat in ("p50", "p99")
    ]  # fmt: skip
    print(f"\n{expected:,} spans, {projects * traces:,} traces, {projects} projects over {DAYS} days (chDB, in-process)")
    print(f"{'measure':<36} {'p50 ms':>8} {'p99 ms':>8} {'target':>7}")
    for name, figures in results["latency"].items():
        target = TARGETS_MS.get(name)
        print(f"{name:<36} {figures['p50_ms']:>8.2f} {figures['p99_ms']:>8.2f} {target or '':>7}")
    print(f"summaries agree with spans: {results['correctness']['summaries_equal_spans']}")
    if not args.quick:
        path = results_dir(args.publish) / RESULTS_FILE
        write_results(results, path)
        print(f"wrote {shown(path)}")
    ch.close()
    if args.quick:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
