"""bench.memory's output: the printed tables (bench.results_dir writes the results file)."""

from typing import Any


def print_searches(title: str, results: list[dict[str, Any]]) -> None:
    header = f"{'class':<24} {'path':<58} {'rows':>7} {'p50 ms':>8} {'p99 ms':>8} {'recall':>7} {'short':>6} {'hnsw':>5}"
    print(f"\n{title}\n{header}\n{'-' * len(header)}")
    for r in results:
        print(
            f"{r['class']:<24} {r['path']:<58} {r['user_rows']:>7,} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}"
            f" {r['recall_at_10']:>7.3f} {r['queries_short_of_k']:>6} {r['hnsw_scans_per_query']:>5.2f}"
        )


def print_report(results: dict[str, Any]) -> None:
    for shape in ("shape_a", "shape_b"):
        load, index, table = results[shape]["load"], results[shape]["index"], results[shape]["table"]
        print(
            f"\n{shape}: {table['rows']:,} rows (heap {table['heap_mb']} MB, TOAST {table['toast_mb']} MB);"
            f" COPY {load['rows']:,} rows in {load['seconds']} s = {load['rows_per_s']:,} rows/s;"
            f" HNSW build {index['seconds']} s, {index['size_mb']} MB"
        )
        for notice in index["notices"]:
            print(f"  build notice: {notice}")
    settings = results["settings"]
    print_searches(
        f"search() as configured (exact up to {settings['memory_exact_scan_max_rows']:,} rows,"
        f" ef_search {settings['memory_ef_search']}); rows = the user's, short = queries under 10 rows,"
        " hnsw = index scans per query",
        results["search"]["configured"],
    )
    print_searches("power user, ef_search sweep", results["ef_search_sweep"])
    print_searches("alternatives, for context", results["alternatives"])
    counts = ", ".join(f"cap {c['cap']:,}: {c['p50_ms']:.2f}" for c in results["capped_count_power_user"])
    print(f"\ncapped count for the power user, p50 ms: {counts}")
    embedding, api = results["embedding"], results["api_writes"]
    print(f"embedding ({embedding['provider']}): p50 {embedding['p50_ms']:.1f} ms, p99 {embedding['p99_ms']:.1f} ms")
    print(
        f"API writes: {api['writes']} in {api['seconds']} s = {api['rows_per_s']} rows/s; request p50"
        f" {api['request']['p50_ms']:.1f} ms (embedding {api['embedding']['p50_ms']:.1f}, rest"
        f" {api['request_minus_embedding']['p50_ms']:.1f}), p99 {api['request']['p99_ms']:.1f} ms"
    )
    print("\ntargets (vector search alone):")
    for item in results["search"]["targets"]:
        print(f"  [{'PASS' if item['pass'] else 'FAIL'}] {item['target']} {item['limit']:g}: {item['value']:g}")
    print(f"\nrun took {results['run_seconds']} s")
