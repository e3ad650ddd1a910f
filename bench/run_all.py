"""Every benchmark, then one table of their headline figures against their targets.

    python -m bench.run_all            # runs them all (about 15 minutes on 2 cores), then the table
    python -m bench.run_all --report   # only the table, from bench/results/*.json

Each benchmark writes its own results file with its method and machine; this reads them back, prints one markdown
table (the README's "Benchmarks" table comes from it) and writes bench/results/summary.json.
"""

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
BENCHMARKS = ("functions", "stripe_webhook", "memory", "traces", "load")

Row = dict[str, Any]


def _row(benchmark: str, measure: str, p50: Any, p99: Any = None, target: str = "", passed: bool | None = None) -> Row:
    return {"benchmark": benchmark, "measure": measure, "p50": p50, "p99": p99, "target": target, "pass": passed}


def _target(results: dict[str, Any], label: str) -> tuple[str, bool | None]:
    for target in results.get("targets", []):
        if target["target"].startswith(label):
            return f"<= {target['limit']} {target.get('unit', 'ms')}", bool(target["pass"])
    return "", None


def functions_rows(results: dict[str, Any]) -> list[Row]:
    baseline = results["baseline"]["cold"]["total_ms"]
    rows = [_row("functions", "baseline cold start (FastAPI + Mangum + Logger)", f"{baseline:.0f} ms")]
    for name, figures in results["functions"].items():
        target, passed = _target(results, f"{name} cold start")
        rows.append(
            _row("functions", f"{name} cold start (x baseline)", f"{figures['cold_ratio_to_baseline']:.2f}", None, target, passed)
        )
        target, passed = _target(results, f"{name} warm p50")
        rows.append(
            _row(
                "functions",
                f"{name} warm",
                f"{figures['warm']['p50_ms']:.2f} ms",
                f"{figures['warm']['p99_ms']:.2f} ms",
                target,
                passed,
            )
        )
    return rows


def stripe_rows(results: dict[str, Any]) -> list[Row]:
    phase = results["phases"]["concurrent"]
    verified = bool(results["verification"]["pass"])
    label = f"{phase['deliveries']:,} deliveries, {phase['events_per_s']:.0f} events/s"
    return [
        _row("stripe_webhook", label, f"{phase['p50_ms']:.1f} ms", f"{phase['p99_ms']:.1f} ms"),
        _row("stripe_webhook", "final states equal an in-order replay", str(verified), None, "True", verified),
    ]


def memory_rows(results: dict[str, Any]) -> list[Row]:
    rows = []
    for search in results["search"]["configured"]:
        label = f"{search['class']}, {search['user_rows']:,} rows, recall@10 {search['recall_at_10']:.3f}"
        target, passed = _target(results["search"], f"{search['class']} p50")
        rows.append(_row("memory", label, f"{search['p50_ms']:.2f} ms", f"{search['p99_ms']:.2f} ms", target, passed))
    return rows


def traces_rows(results: dict[str, Any]) -> list[Row]:
    rows = []
    for name, figures in results["latency"].items():
        target, passed = _target(results, f"traces {name} p99")
        rows.append(
            _row("traces (10M spans)", name, f"{figures['p50_ms']:.2f} ms", f"{figures['p99_ms']:.2f} ms", target, passed)
        )
    return rows


def load_rows(results: dict[str, Any]) -> list[Row]:
    label = f"{results['clients']} clients, {results['requests']:,} mixed requests, {results['throughput_rps']:.0f} req/s"
    checked = f"{results['errors']} errors, database checks {'pass' if results['pass'] else 'FAIL'}"
    return [
        _row("load", label, f"{results['p50_ms']:.0f} ms", f"{results['p99_ms']:.0f} ms"),
        _row("load", checked, None, None, "0 errors, checks pass", results["errors"] == 0 and bool(results["pass"])),
    ]


EXTRACTORS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "functions": functions_rows,
    "stripe_webhook": stripe_rows,
    "memory": memory_rows,
    "traces": traces_rows,
    "load": load_rows,
}


def collect() -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    machines: dict[str, Any] = {}
    for name in BENCHMARKS:
        path = RESULTS / f"{name}.json"
        if not path.exists():
            rows.append(_row(name, "not run yet", None))
            continue
        results = json.loads(path.read_text())
        machines[name] = results.get("machine", {})
        rows.extend(EXTRACTORS[name](results))
    return rows, machines


def markdown(rows: list[Row]) -> str:
    lines = ["| Benchmark | Measure | p50 | p99 | Target | Met |", "|---|---|---|---|---|---|"]
    for row in rows:
        met = "" if row["pass"] is None else ("yes" if row["pass"] else "**no**")
        lines.append(
            f"| {row['benchmark']} | {row['measure']} | {row['p50'] or ''} | {row['p99'] or ''} | {row['target']} | {met} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--report", action="store_true", help="only print the table from the existing results")
    args = parser.parse_args()
    if not args.report:
        for name in BENCHMARKS:
            print(f"== bench.{name}", flush=True)
            subprocess.run([sys.executable, "-m", f"bench.{name}"], check=True)  # noqa: S603 - our own modules
    rows, machines = collect()
    print(markdown(rows))
    dates = sorted({m.get("date", "")[:10] for m in machines.values() if m.get("date")})
    first = next(iter(machines.values()), {})
    where = f"{first.get('nproc')} cores, Python {first.get('python')}, {first.get('platform', '')}"
    print(f"\nmachine: {where}; runs of {', '.join(dates)}")
    (RESULTS / "summary.json").write_text(json.dumps({"rows": rows, "machines": machines}, indent=2) + "\n")


if __name__ == "__main__":
    main()
