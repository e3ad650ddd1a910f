"""bench.functions' figures: medians and percentiles of the runs, the budgets they meet or miss, the printed table."""

import statistics
from typing import Any

from bench.functions_config import BASELINE, COLD_RATIO_LIMIT, COLD_RUNS, RUNS, WARM_NET_OF, WARM_P50_LIMITS_MS

COLD_PARTS = ("import_ms", "first_request_ms", "total_ms")


def medians(processes: list[dict[str, float]]) -> dict[str, float]:
    """Each part's median; the total's median is its own (it need not equal the sum of the parts' medians)."""
    return {part: round(statistics.median(process[part] for process in processes), 2) for part in COLD_PARTS}


def cold_summary(runs: list[list[dict[str, float]]]) -> dict[str, Any]:
    """Per run, its processes and their medians; then the medians over every process of every run."""
    return {
        "runs": [
            {**medians(processes), "processes": [{part: round(p[part], 2) for part in COLD_PARTS} for p in processes]}
            for processes in runs
        ],
        **medians([process for processes in runs for process in processes]),
    }


def cold_ratios(function: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """Each run's median total over the baseline's in the same run, and the median of those ratios: the figure held
    to the budget (a slow minute on the machine moves one run, not the median)."""
    ratios = [round(own["total_ms"] / base["total_ms"], 3) for own, base in zip(function["runs"], baseline["runs"], strict=True)]
    return {"cold_ratio_runs": ratios, "cold_ratio_to_baseline": round(statistics.median(ratios), 3)}


def percentiles(timings: list[float], prefix: str = "") -> dict[str, float]:
    return {
        f"{prefix}p50_ms": round(statistics.median(timings), 3),
        f"{prefix}p99_ms": round(statistics.quantiles(timings, n=100, method="inclusive")[98], 3),
    }


def warm_summary(series: dict[str, list[float]], excluded_call: str = "") -> dict[str, Any]:
    """Per-call figures; for a series timed net of a call (`excluded_ms`), also the figures without it (`net_*`) and
    what that call is (`net_of`)."""
    timings = series["timings_ms"]
    figures: dict[str, Any] = {"requests": len(timings), **percentiles(timings), "mean_ms": round(statistics.fmean(timings), 3)}
    if "excluded_ms" in series:
        net = [total - excluded for total, excluded in zip(timings, series["excluded_ms"], strict=True)]
        figures |= percentiles(net, "net_") | {"excluded_p50_ms": round(statistics.median(series["excluded_ms"]), 3)}
        figures["net_of"] = excluded_call
    return figures


def check(subject: str, target: str, value: float, limit: float, unit: str) -> dict[str, Any]:
    return {"subject": subject, "target": target, "value": value, "limit": limit, "unit": unit, "pass": value <= limit}


def evaluate_targets(functions: dict[str, dict[str, Any]], warm_only: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The agreed budgets; reported, never fatal (only functional errors fail the run)."""
    cold = [
        check(
            name,
            f"{name} cold start <= {COLD_RATIO_LIMIT:g} x baseline (median of {RUNS} runs)",
            figures["cold_ratio_to_baseline"],
            COLD_RATIO_LIMIT,
            "x",
        )
        for name, figures in functions.items()
    ]
    warm = []
    for name, limit in WARM_P50_LIMITS_MS.items():
        figures = warm_only[name] if name in warm_only else functions[name]["warm"]
        net = f" net of {WARM_NET_OF[name][1]}" if name in WARM_NET_OF else ""
        value = figures["net_p50_ms"] if net else figures["p50_ms"]
        warm.append(check(name, f"{name} warm p50{net} <= {limit:g} ms", value, limit, "ms"))
    return cold + warm


def print_table(results: dict[str, Any]) -> None:
    header = (
        f"{'function':<38} {'import ms':>9} {'1st req':>8} {'cold ms':>8} {'x base':>7} {'runs':>17}"
        f" {'warm p50':>9} {'warm p99':>9}"
    )
    print(f"\n{header}\n{'-' * len(header)}")
    baseline = {**results["baseline"], "cold_ratio_to_baseline": 1.0, "cold_ratio_runs": [1.0] * RUNS}
    for name, figures in [*results["functions"].items(), (BASELINE, baseline)]:
        cold, warm = figures["cold"], figures["warm"]
        runs = " ".join(f"{ratio:.2f}" for ratio in figures["cold_ratio_runs"])
        print(
            f"{name:<38} {cold['import_ms']:>9.1f} {cold['first_request_ms']:>8.1f} {cold['total_ms']:>8.1f}"
            f" {figures['cold_ratio_to_baseline']:>7.2f} {runs:>17} {warm['p50_ms']:>9.2f} {warm['p99_ms']:>9.2f}"
        )
    for name, warm in results["warm_only"].items():
        print(f"{name:<38} {'(warm only)':>61} {warm['p50_ms']:>9.2f} {warm['p99_ms']:>9.2f}")
    for name, figures in results["functions"].items():
        if "net_p50_ms" in figures["warm"]:
            print(f"{name} warm net of {WARM_NET_OF[name][1]}: p50 {figures['warm']['net_p50_ms']:.2f} ms")
    print(
        f"\ncold: {RUNS} runs of {COLD_RUNS} fresh processes per function, interleaved with the baseline's; x base is"
        " the median of the runs' ratios; warm: per-call ms in one process after a warm-up call"
    )
    for target in results["targets"]:
        print(f"  [{'PASS' if target['pass'] else 'FAIL'}] {target['target']}: {target['value']:g} {target['unit']}")
