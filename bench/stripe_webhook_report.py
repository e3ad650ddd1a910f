"""bench.stripe_webhook's figures and printed report: latency per phase and kind, what the function printed."""

import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from bench.stripe_webhook_config import WORKERS
from bench.stripe_webhook_delivery import Phase
from bench.stripe_webhook_workload import Workload


def latency_summary(latencies: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies)
    p99 = statistics.quantiles(ordered, n=100, method="inclusive")[98] if len(ordered) > 1 else ordered[0]
    return {
        "count": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(p99, 2),
        "max_ms": round(ordered[-1], 2),
    }


def phase_summary(phase: Phase) -> dict[str, Any]:
    """Throughput counts deliveries (duplicates included: each is a full request Stripe made)."""
    by_kind: dict[str, list[float]] = {}
    for answer in phase.answers:
        kind = "duplicate" if answer.outcome == "duplicate" else answer.delivery.type
        by_kind.setdefault(kind, []).append(answer.latency_ms)
    overall = latency_summary([answer.latency_ms for answer in phase.answers])
    return {
        "name": phase.name,
        "deliveries": overall.pop("count"),
        "wall_s": round(phase.wall_seconds, 3),
        "events_per_s": round(len(phase.answers) / phase.wall_seconds, 1),
        **overall,
        "outcomes": dict(Counter(str(answer.outcome) for answer in phase.answers).most_common()),
        "latency_by_kind": {kind: latency_summary(values) for kind, values in sorted(by_kind.items())},
    }


def workload_summary(workload: Workload) -> dict[str, Any]:
    return {
        "seed": workload.seed,
        "orgs": len(workload.orgs),
        "unique_events": len(workload.events),
        "duplicate_deliveries": len(workload.deliveries) - len(workload.events),
        "deliveries": len(workload.deliveries),
        "workers": WORKERS,
        "event_types": dict(Counter(event.type for event in workload.events).most_common()),
    }


def function_output(log_path: Path) -> dict[str, int]:
    """What the function printed (Powertools JSON logs and EMF metric blobs), captured so the report stays readable."""
    lines = log_path.read_text().splitlines() if log_path.exists() else []
    return {
        "lines": len(lines),
        "warning_logs": sum('"level":"WARNING"' in line for line in lines),
        "error_logs": sum('"level":"ERROR"' in line for line in lines),
        "emf_blobs": sum(line.startswith('{"_aws"') for line in lines),
    }


def print_phases(phases: dict[str, dict[str, Any]]) -> None:
    header = f"{'phase':<26} {'deliveries':>10} {'wall s':>8} {'events/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    print(f"\n{header}\n{'-' * len(header)}")
    for figures in phases.values():
        print(
            f"{figures['name']:<26} {figures['deliveries']:>10} {figures['wall_s']:>8.2f} {figures['events_per_s']:>9.1f}"
            f" {figures['p50_ms']:>8.2f} {figures['p99_ms']:>8.2f} {figures['max_ms']:>8.2f}"
        )
    for figures in phases.values():
        print(f"\n{figures['name']}:")
        print("  outcomes: " + ", ".join(f"{name} {count}" for name, count in figures["outcomes"].items()))
        for kind, latency in figures["latency_by_kind"].items():
            print(f"  {kind:<30} n={latency['count']:<5} p50 {latency['p50_ms']:>7.2f} ms   p99 {latency['p99_ms']:>7.2f} ms")


def print_verification(verification: dict[str, Any]) -> None:
    print(f"\nverification against the sequential replay: {'PASS' if verification['pass'] else 'FAIL'}")
    for item in verification["checks"]:
        print(f"  [{'PASS' if item['pass'] else 'FAIL'}] {item['check']}: {item['value']} (expected {item['expected']})")
    print("  not compared: billing_state_* (the ordering guard's bookkeeping), updated_at (wall clock)")
    for diff in verification["diffs"][:10]:
        print(f"  org {diff['org_id']}: {json.dumps(diff['columns'], default=str)}")
        print(f"    claimed concurrently as: {'; '.join(diff['concurrent_history_in_claim_order'])}")


def print_report(results: dict[str, Any]) -> None:
    print_phases(results["phases"])
    output = results["function_output"]
    print(
        f"\nfunction stdout, captured: {output['lines']} lines ({output['warning_logs']} WARNING, {output['error_logs']} ERROR"
        f" logs, {output['emf_blobs']} EMF metric blobs)"
    )
    print_verification(results["verification"])
