"""bench.stripe_webhook's verification: the concurrent phase's final org states against the in-order replay's."""

import uuid
from collections import Counter
from typing import Any

import psycopg
from psycopg.rows import dict_row

from bench.stripe_webhook_config import COMPARED_COLUMNS, NOT_COMPARED
from bench.stripe_webhook_delivery import Phase
from bench.stripe_webhook_workload import Delivery, Workload

OrgStates = dict[uuid.UUID, dict[str, Any]]


def org_states(uri: str) -> OrgStates:
    with psycopg.connect(uri, row_factory=dict_row) as conn:
        rows = conn.execute(
            f"SELECT id, {', '.join(COMPARED_COLUMNS[:-1])},"
            " agentmode.org_effective_plan(o) AS effective_plan FROM agentmode.orgs o"
        ).fetchall()
    return {row["id"]: row for row in rows}


def scalar(uri: str, sql: str) -> Any:
    with psycopg.connect(uri) as conn:
        row = conn.execute(sql.encode()).fetchone()
    return row[0] if row else None


def event_history(uri: str, org_events: list[Delivery]) -> list[str]:
    """An org's events as the concurrent phase handled them (in the order they were claimed), to explain a mismatch."""
    by_id = {event.event_id: event for event in org_events}
    with psycopg.connect(uri) as conn:
        rows = conn.execute(
            "SELECT id, outcome FROM agentmode.stripe_events WHERE id = ANY(%s) ORDER BY processed_at, created", (list(by_id),)
        ).fetchall()
    return [f"{by_id[event_id].type}@{by_id[event_id].created} -> {outcome}" for event_id, outcome in rows]


def org_diffs(got: OrgStates, want: OrgStates, workload: Workload, concurrent_uri: str) -> list[dict[str, Any]]:
    """Every compared column of every org, concurrent phase vs sequential replay; a diff names its org's history."""
    by_org: dict[uuid.UUID, list[Delivery]] = {}
    for event in workload.events:
        by_org.setdefault(event.org_id, []).append(event)
    diffs = []
    for org_id in workload.orgs:
        columns = {
            column: {"concurrent": got[org_id][column], "replay": want[org_id][column]}
            for column in COMPARED_COLUMNS
            if got[org_id][column] != want[org_id][column]
        }
        if columns:
            history = event_history(concurrent_uri, by_org[org_id])
            diffs.append({"org_id": str(org_id), "columns": columns, "concurrent_history_in_claim_order": history})
    return diffs


def check(name: str, value: Any, expected: Any) -> dict[str, Any]:
    return {"check": name, "value": value, "expected": expected, "pass": value == expected}


def verify(concurrent_uri: str, replay_uri: str, workload: Workload, concurrent: Phase) -> dict[str, Any]:
    """Same final org states as the replay, each event claimed once, every duplicate recognised, nothing left parked."""
    got, want = org_states(concurrent_uri), org_states(replay_uri)
    diffs = org_diffs(got, want, workload, concurrent_uri)
    outcomes = Counter(answer.outcome for answer in concurrent.answers)
    events, parked = "SELECT count(*) FROM agentmode.stripe_events", "SELECT count(*) FROM agentmode.stripe_parked_events"
    unlinked = "SELECT count(*) FROM agentmode.billing_disputes WHERE org_id IS NULL"
    checks = [
        check("orgs whose compared columns differ from the replay", len(diffs), 0),
        check("stripe_events rows (concurrent)", scalar(concurrent_uri, events), len(workload.events)),
        check("deliveries answered `duplicate`", outcomes["duplicate"], len(workload.deliveries) - len(workload.events)),
        check("parked events never applied", scalar(concurrent_uri, f"{parked} WHERE applied_at IS NULL"), 0),
        check("disputes recorded without an org (concurrent)", scalar(concurrent_uri, unlinked), 0),
        check("stripe_events rows (replay)", scalar(replay_uri, events), len(workload.events)),
    ]
    return {
        "pass": all(c["pass"] for c in checks),
        "compared_columns": list(COMPARED_COLUMNS),
        "not_compared": NOT_COMPARED,
        "parked_events_total": scalar(concurrent_uri, parked),
        "checks": checks,
        "diffs": diffs,
    }
