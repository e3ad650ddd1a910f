"""The headline figures of every benchmark as one markdown table: the README's "Benchmarks" table, made from the results
files alone, so the README can be checked against them (tests/unit/test_bench_results_in_readme.py)."""

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCHMARKS = ("functions", "stripe_webhook", "memory", "traces", "opsboard_projects", "opsboard_orgs", "runner_loop", "load")
TIMES = "\N{MULTIPLICATION SIGN}"  # as in "1.49 times": a ratio to the baseline's cold start
TRACES_MEASURES = {
    "list_first_page": "list, first page with totals (7 days)",
    "list_page_50_by_cursor": "list, 50th page by cursor (30 days)",
    "detail": "trace detail (50 spans)",
    "metrics_30_days": "metrics, 30 days",
}

Row = dict[str, Any]


def ms(value: float) -> str:
    """Three significant figures, two decimals at most: 1.02 ms, 24.5 ms, 941 ms."""
    decimals = 2 if value < 10 else 1 if value < 100 else 0
    return f"{value:.{decimals}f} ms"


def row(benchmark: str, measure: str, p50: str = "", p99: str = "", target: str = "", passed: bool | None = None) -> Row:
    return {"benchmark": benchmark, "measure": measure, "p50": p50, "p99": p99, "target": target, "pass": passed}


def snake_name(function: str) -> str:
    """AgentStartFunction -> agent_start, as the functions' folders are named."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", function.removesuffix("Function")).lower()


def function_budget(target: dict[str, Any]) -> str:
    return f"≤ {target['limit']:g} {TIMES}" if target["unit"] == "x" else f"≤ {target['limit']:g} ms"


def budgets_of(results: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """A function's (or route's) budgets; results before issue 15 name the function as the target's first word."""
    return [target for target in results["targets"] if target.get("subject", target["target"].split(" ", 1)[0]) == name]


def budget_row(measure: str, figures: dict[str, Any], p50: str, budgets: list[dict[str, Any]]) -> Row:
    passed = all(target["pass"] for target in budgets) if budgets else None
    return row("functions", measure, p50, ms(figures["warm"]["p99_ms"]), " / ".join(map(function_budget, budgets)), passed)


def functions_rows(results: dict[str, Any]) -> list[Row]:
    """The baseline, every function (cold: the median ratio, and each run's when there were several), then each route
    measured warm only."""
    baseline = results["baseline"]
    rows = [
        row(
            "functions",
            "baseline (FastAPI + Mangum + Logger) cold start / warm",
            f"{baseline['cold']['total_ms']:.0f} ms / {ms(baseline['warm']['p50_ms'])}",
            ms(baseline["warm"]["p99_ms"]),
        )
    ]
    for name, figures in results["functions"].items():
        runs = figures.get("cold_ratio_runs")
        cold = f"cold start (runs {', '.join(f'{ratio:.2f}' for ratio in runs)})" if runs else "cold start"
        warm = figures["warm"]
        net = f" (net of {warm.get('net_of') or 'the embedding call'}: {ms(warm['net_p50_ms'])})" if "net_p50_ms" in warm else ""
        p50 = f"{figures['cold_ratio_to_baseline']:.2f} {TIMES} / {ms(warm['p50_ms'])}"
        rows.append(budget_row(f"{snake_name(name)} {cold} / warm{net}", figures, p50, budgets_of(results, name)))
    for name, warm in results.get("warm_only", {}).items():
        function, route = name.split(" ", 1)
        measure = f"{snake_name(function)} {route}, warm"
        rows.append(budget_row(measure, {"warm": warm}, ms(warm["p50_ms"]), budgets_of(results, name)))
    return rows


def stripe_rows(results: dict[str, Any]) -> list[Row]:
    phase = results["phases"]["concurrent"]
    label = f"{phase['deliveries']:,} deliveries at {phase['events_per_s']:.0f} events/s; final states equal an in-order replay"
    return [row("stripe_webhook", label, ms(phase["p50_ms"]), ms(phase["p99_ms"]), "equal", results["verification"]["pass"])]


def memory_rows(results: dict[str, Any]) -> list[Row]:
    """The searches with a latency budget; `(a)`/`(b)` in a class name is the table it ran on."""
    rows = []
    for search in results["search"]["configured"]:
        shape, user = search["class"][1], search["class"][4:]
        budgets = [target for target in results["search"]["targets"] if target["target"].startswith(search["class"] + " ")]
        p50_budget = next((target for target in budgets if " p50 " in target["target"]), None)
        if p50_budget is None:
            continue
        table_rows = results[f"shape_{shape}"]["table"]["rows"]
        label = f"{user} ({search['user_rows']:,} rows of {table_rows // 1000}k), recall@10 {search['recall_at_10']:.3f}"
        passed = all(target["pass"] for target in budgets)
        rows.append(row("memory", label, ms(search["p50_ms"]), ms(search["p99_ms"]), f"≤ {p50_budget['limit']:g} ms", passed))
    return rows


def traces_rows(results: dict[str, Any]) -> list[Row]:
    benchmark = f"traces ({results['data']['spans'] // 1_000_000}M spans)"
    rows = []
    for name, limit in results["targets_ms"].items():
        figures = results["latency"][name]
        passed = all(target["pass"] for target in results["targets"] if target["target"].startswith(f"traces {name} "))
        measure = TRACES_MEASURES.get(name, name)
        rows.append(row(benchmark, measure, ms(figures["p50_ms"]), ms(figures["p99_ms"]), f"≤ {limit:g} ms", passed))
    return rows


def load_rows(results: dict[str, Any]) -> list[Row]:
    checks = "every DB check passes" if all(item["pass"] for item in results["checks"]) else "a DB check fails"
    label = (
        f"{results['clients']} clients, {results['requests']:,} mixed requests over loopback:"
        f" {results['throughput_rps']:.0f} req/s, {results['errors']} errors, {checks}"
    )
    passed = results["errors"] == 0 and bool(results["pass"])
    return [row("load", label, ms(results["p50_ms"]), ms(results["p99_ms"]), "0 errors", passed)]


def opsboard_projects_rows(results: dict[str, Any]) -> list[Row]:
    figures, target, data = results["variants"]["projects_list"], results["target"], results["data"]
    label = f"GET /opsboard/projects, {data['projects']} projects with trace counts ({data['spans']:,} spans, chDB)"
    limit = target["projects_list_p50_max_ms"]
    return [row("opsboard", label, ms(figures["p50_ms"]), ms(figures["p99_ms"]), f"≤ {limit:g} ms", target["met"])]


def opsboard_orgs_rows(results: dict[str, Any]) -> list[Row]:
    figures, target = results["variants"]["orgs_list"], results["target"]
    label = f"GET /opsboard/orgs, {results['data']['pro_orgs']} pro orgs: {results['stripe_requests']} Stripe calls"
    budget = f"≤ {target['orgs_list_p50_max_ms']:g} ms, 0 calls"
    return [row("opsboard", label, ms(figures["p50_ms"]), ms(figures["p99_ms"]), budget, target["met"])]


def runner_loop_rows(results: dict[str, Any]) -> list[Row]:
    variants, target, ratio = results["variants"], results["target"], results["event_runner_over_user"]["p50_ratio"]
    rows = [
        row("runner_loop", f"POST /agent/{name}, warm (SQS client on loopback)", ms(variants[name]["p50_ms"]),
            ms(variants[name]["p99_ms"]), f"≤ {target[f'{name}_p50_max_ms']:g} ms", target[f"{name}_met"])
        for name in ("respond", "cancel")
    ]  # fmt: skip
    label = "POST /agent/event with a runner credential / with the user's token, same run: p50 ratio"
    budget = f"≤ {target['event_runner_over_user_max']:g} {TIMES}"
    rows.append(row("runner_loop", label, f"{ratio:.2f} {TIMES}", "", budget, target["event_met"]))
    return rows


EXTRACTORS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "functions": functions_rows,
    "stripe_webhook": stripe_rows,
    "memory": memory_rows,
    "traces": traces_rows,
    "opsboard_projects": opsboard_projects_rows,
    "opsboard_orgs": opsboard_orgs_rows,
    "runner_loop": runner_loop_rows,
    "load": load_rows,
}


def collect(folder: Path) -> tuple[list[Row], dict[str, Any]]:
    """Every benchmark's rows from `folder`/<name>.json, and the machine each ran on."""
    rows: list[Row] = []
    machines: dict[str, Any] = {}
    for name in BENCHMARKS:
        path = folder / f"{name}.json"
        if not path.exists():
            rows.append(row(name, "not run yet"))
            continue
        results = json.loads(path.read_text())
        machines[name] = results.get("machine", {})
        rows.extend(EXTRACTORS[name](results))
    return rows, machines


def machines_line(machines: dict[str, Any]) -> str:
    """Where and when each benchmark ran, grouped: the line under the table."""
    groups: dict[str, list[str]] = {}
    for name, machine in machines.items():
        where = f"{machine.get('nproc')} cores, {machine.get('cpu')}, Python {machine.get('python')}"
        groups.setdefault(f"{where}, {machine.get('date', '')[:10]}", []).append(name)
    return "Ran on: " + "; ".join(f"{', '.join(names)}: {where}" for where, names in groups.items()) + "."


def markdown(rows: list[Row]) -> str:
    lines = ["| Benchmark | Measure | p50 | p99 | Target | Met |", "|---|---|---|---|---|---|"]
    for item in rows:
        met = "" if item["pass"] is None else ("yes" if item["pass"] else "**no**")
        cells = [item["benchmark"], item["measure"], item["p50"], item["p99"], item["target"], met]
        lines.append("|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|")
    return "\n".join(lines)
