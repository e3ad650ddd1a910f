"""bench.functions' figures: medians and percentiles of the runs, the budgets they meet or miss, the printed table."""

import statistics
from typing import Any

from bench.functions_config import BASELINE, COLD_RATIO_LIMIT, COLD_RUNS, FUNCTIONS, WARM_P50_LIMITS_MS


def cold_summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    """Medians of each part; the total's median is its own (it need not equal the sum of the parts' medians)."""
    return {
        "runs": [{key: round(value, 2) for key, value in run.items()} for run in runs],
        "import_ms": round(statistics.median(run["import_ms"] for run in runs), 2),
        "first_request_ms": round(statistics.median(run["first_request_ms"] for run in runs), 2),
        "total_ms": round(statistics.median(run["total_ms"] for run in runs), 2),
    }


def warm_summary(timings: list[float]) -> dict[str, Any]:
    return {
        "requests": len(timings),
        "p50_ms": round(statistics.median(timings), 3),
        "p99_ms": round(statistics.quantiles(timings, n=100, method="inclusive")[98], 3),
        "mean_ms": round(statistics.fmean(timings), 3),
    }


def check(target: str, value: float, limit: float, unit: str) -> dict[str, Any]:
    return {"target": target, "value": value, "limit": limit, "unit": unit, "pass": value <= limit}


def evaluate_targets(functions: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The agreed budgets; reported, never fatal (only functional errors fail the run)."""
    cold = [
        check(
            f"{name} cold start <= {COLD_RATIO_LIMIT:g} x baseline",
            functions[name]["cold_ratio_to_baseline"],
            COLD_RATIO_LIMIT,
            "x",
        )
        for name in FUNCTIONS
    ]
    warm = [
        check(f"{name} warm p50 <= {limit:g} ms", functions[name]["warm"]["p50_ms"], limit, "ms")
        for name, limit in WARM_P50_LIMITS_MS.items()
    ]
    return cold + warm


def print_table(baseline: dict[str, Any], functions: dict[str, dict[str, Any]], targets: list[dict[str, Any]]) -> None:
    header = f"{'function':<20} {'import ms':>10} {'1st req ms':>10} {'cold ms':>9} {'x base':>7} {'warm p50':>9} {'warm p99':>9}"
    print(f"\n{header}\n{'-' * len(header)}")
    for name, figures in [*functions.items(), (BASELINE, {**baseline, "cold_ratio_to_baseline": 1.0})]:
        cold, warm = figures["cold"], figures["warm"]
        print(
            f"{name:<20} {cold['import_ms']:>10.1f} {cold['first_request_ms']:>10.1f} {cold['total_ms']:>9.1f}"
            f" {figures['cold_ratio_to_baseline']:>7.2f} {warm['p50_ms']:>9.2f} {warm['p99_ms']:>9.2f}"
        )
    print(f"\ncold: median of {COLD_RUNS} fresh processes; warm: per-call ms in one process after a warm-up call")
    for target in targets:
        print(f"  [{'PASS' if target['pass'] else 'FAIL'}] {target['target']}: {target['value']:g} {target['unit']}")
