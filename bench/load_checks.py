"""bench.load's verdicts: the database against the ledger of acknowledged answers, and the latency figures.

Every check is a count of offending rows (or answers) that must be 0, so a failure names how many and which.
"""

import statistics
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import psycopg

from bench.load_ledger import Sample
from bench.load_population import ROUTES, START, Population
from bench.load_workload import RunResult


@dataclass
class Check:
    name: str
    value: int
    total: int  # what was checked (rows, answers, sessions ...), for the report
    examples: list[str] = field(default_factory=list)
    # False for what the API documents as possible (reported as a note, never fails the run).
    fatal: bool = True

    @property
    def passed(self) -> bool:
        return self.value == 0 or not self.fatal

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.name, "offending": self.value, "checked": self.total, "pass": self.passed,
                "fatal": self.fatal, "examples": self.examples[:5]}  # fmt: skip


def check(name: str, offending: list[Any], total: int, *, fatal: bool = True) -> Check:
    return Check(name, len(offending), total, [str(item) for item in offending[:5]], fatal)


# --- the database ---------------------------------------------------------------------------------------------------


def _rows(admin: psycopg.Connection[Any], sql: str, users: list[uuid.UUID]) -> list[tuple[Any, ...]]:
    return admin.execute(sql.encode(), (users,)).fetchall()


def event_checks(admin: psycopg.Connection[Any], result: RunResult) -> list[Check]:
    users = result.ledger.population.user_ids
    sessions = result.ledger.sessions
    logs = _rows(admin, "SELECT session_id, seq, id FROM agentmode.agent_execution_logs WHERE user_id = ANY(%s)", users)
    last_seq = dict(_rows(admin, "SELECT id, last_seq FROM agentmode.agent_sessions WHERE user_id = ANY(%s)", users))
    by_log_id: dict[uuid.UUID, list[tuple[uuid.UUID, int]]] = defaultdict(list)
    seqs: dict[uuid.UUID, list[int]] = defaultdict(list)
    for session_id, seq, log_id in logs:
        by_log_id[log_id].append((session_id, seq))
        seqs[session_id].append(seq)
    acked = [(s.id, seq, log_id) for s in sessions.values() for seq, log_id in s.acked.items()]
    not_once = [
        f"{sid} seq {seq}: {by_log_id.get(log_id)}" for sid, seq, log_id in acked if by_log_id.get(log_id) != [(sid, seq)]
    ]
    acked_ids = {log_id for _, _, log_id in acked}
    unacked = [f"{sid} seq {seq}" for sid, seq, log_id in logs if log_id not in acked_ids]
    gaps = [
        f"{sid}: {sorted(found)[:10]}... last_seq {last_seq.get(sid)}"
        for sid, found in seqs.items()
        if sorted(found) != list(range(1, last_seq.get(sid, 0) + 1))
    ]
    twice = [f"{s.id} seq {seq}" for s in sessions.values() for seq in s.acked_twice]
    after_end = [
        f"{s.id}: seq {max(s.acked)} after session_completed at {s.completed_seq}"
        for s in sessions.values()
        if s.completed_seq is not None and max(s.acked) > s.completed_seq
    ]
    return [
        check("acknowledged events not in the log exactly once (same session, seq)", not_once, len(acked)),
        check("logged events nobody acknowledged", unacked, len(logs)),
        check("sessions whose seqs are not 1..last_seq", gaps, len(last_seq)),
        check("seqs acknowledged twice", twice, len(acked)),
        check("events acknowledged after the session's completion", after_end, len(sessions)),
    ]


def session_checks(admin: psycopg.Connection[Any], population: Population, result: RunResult) -> list[Check]:
    ledger, users = result.ledger, population.user_ids
    rows = _rows(
        admin,
        "SELECT id, user_id, idempotency_key, credits_charged, status FROM agentmode.agent_sessions WHERE user_id = ANY(%s)",
        users,
    )
    found = {row[0]: row for row in rows}
    owner = {user.index: user.id for user in population.users}
    missing = [
        f"{sid}: {found.get(sid)}" for sid, s in ledger.sessions.items() if sid not in found or found[sid][1] != owner[s.user]
    ]
    unacked = [str(sid) for sid in found if sid not in ledger.sessions]
    keys_in_db = Counter(row[2] for row in rows)
    answered = [k for k in ledger.keys.values() if k.answers]
    bad_keys = [
        f"{k.key}: answers {k.answers}, rows {keys_in_db.get(k.key, 0)}"
        for k in answered
        if [status for status, _ in k.answers].count(201) != 1
        or len({sid for _, sid in k.answers}) != 1
        or keys_in_db.get(k.key, 0) != 1
    ]
    completed = [
        f"{s.id}: {found[s.id][4]}"
        for s in ledger.sessions.values()
        if s.completed_seq is not None and s.id in found and found[s.id][4] != "completed"
    ]
    return [
        check("acknowledged sessions missing (or not the caller's)", missing, len(ledger.sessions)),
        check("sessions nobody acknowledged", unacked, len(found)),
        check("idempotency keys not answered by exactly one 201 and one session", bad_keys, len(answered)),
        check("completed sessions not stored as completed", completed, len(ledger.sessions)),
    ]


def credit_checks(admin: psycopg.Connection[Any], population: Population, result: RunResult) -> list[Check]:
    """Each user's balance is what they had less each acknowledged start's cost, and the quota counted each start once."""
    users = population.user_ids
    balances = dict(_rows(admin, "SELECT user_id, balance FROM agentmode.credit_balances WHERE user_id = ANY(%s)", users))
    charged = dict(
        _rows(
            admin,
            "SELECT user_id, sum(credits_charged)::int FROM agentmode.agent_sessions WHERE user_id = ANY(%s) GROUP BY 1",
            users,
        )
    )
    hits = {
        (user, action): count
        for user, action, count in _rows(
            admin, "SELECT user_id, action, count(*) FROM agentmode.rate_limit_hits WHERE user_id = ANY(%s) GROUP BY 1, 2", users
        )
    }
    cost: Counter[int] = Counter()
    starts: Counter[int] = Counter()
    for key in result.ledger.keys.values():
        if key.answers:
            cost[key.user] += key.cost
            starts[key.user] += 1
    wrong_balance = [
        f"{u.id}: balance {balances.get(u.id)}, expected {population.credits - cost[u.index]} (charged {charged.get(u.id, 0)})"
        for u in population.users
        if balances.get(u.id) != population.credits - cost[u.index] or charged.get(u.id, 0) != cost[u.index]
    ]
    wrong_quota = [
        f"{u.id}: {hits.get((u.id, 'agent_start'), 0)} quota uses, {starts[u.index]} sessions"
        for u in population.users
        if hits.get((u.id, "agent_start"), 0) != starts[u.index]
    ]
    memory_quota = _memory_quota(population, result, hits)
    return [
        check("users whose credits are not initial - acknowledged starts' cost", wrong_balance, len(population.users)),
        check("users whose run quota did not count each session once (replays don't count)", wrong_quota, len(population.users)),
        check("users whose memory quotas did not count each acknowledged write/read once", memory_quota, len(population.users)),
    ]


def _memory_quota(population: Population, result: RunResult, hits: dict[tuple[uuid.UUID, str], int]) -> list[str]:
    writes: Counter[int] = Counter()
    for memory in result.ledger.memories.values():
        writes[memory.user] += len(memory.answers)
    reads = result.ledger.acked_reads
    return [
        f"{u.id}: writes {hits.get((u.id, 'memory_write'), 0)}/{writes[u.index]},"
        f" reads {hits.get((u.id, 'memory_read'), 0)}/{reads[u.index]}"
        for u in population.users
        if (hits.get((u.id, "memory_write"), 0), hits.get((u.id, "memory_read"), 0)) != (writes[u.index], reads[u.index])
    ]


def memory_checks(admin: psycopg.Connection[Any], population: Population, result: RunResult) -> list[Check]:
    ledger = result.ledger
    rows = _rows(admin, "SELECT id, user_id, memory_type, content FROM agentmode.agent_memory WHERE user_id = ANY(%s)",
                 population.user_ids)  # fmt: skip
    by_id = {str(row[0]): row for row in rows}
    owner = {user.index: user.id for user in population.users}
    acked = [m for m in ledger.memories.values() if m.answers]
    missing = [
        f"{m.content!r}: {by_id.get(m.answers[0][1])}"
        for m in acked
        if len({answer_id for _, answer_id, _ in m.answers}) != 1
        or by_id.get(m.answers[0][1], (None, None, None, None))[1:] != (owner[m.user], m.memory_type, m.content)
    ]
    per_user = Counter(row[1] for row in rows)
    expected = Counter(owner[m.user] for m in acked)
    extra = [
        f"{u.id}: {per_user[u.id]} rows, expected {expected[u.id] + 1}"
        for u in population.users
        if per_user[u.id] != expected[u.id] + 1
    ]  # + the brand memory each user was created with
    foreign = [
        f"user {owner[index]} was shown {hit}: {by_id.get(hit)}"
        for index, hits in ledger.memory_hits.items()
        for hit in hits
        if hit not in by_id or by_id[hit][1] != owner[index]
    ]
    return [
        check("acknowledged memories missing or different (one id per content)", missing, len(acked)),
        check("users with memories nobody acknowledged", extra, len(population.users)),
        check("read-memory results that are not the caller's memories", foreign, sum(map(len, ledger.memory_hits.values()))),
    ]


def verify(admin: psycopg.Connection[Any], population: Population, result: RunResult) -> list[Check]:
    """Everything the database must show after the run; `admin` is a superuser connection (RLS does not apply)."""
    return [
        *event_checks(admin, result),
        *session_checks(admin, population, result),
        *credit_checks(admin, population, result),
        *memory_checks(admin, population, result),
    ]


# --- the figures ----------------------------------------------------------------------------------------------------


def latency(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0, "mean_ms": 0.0}
    p99 = statistics.quantiles(ordered, n=100, method="inclusive")[98] if len(ordered) > 1 else ordered[0]
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(p99, 2),
        "max_ms": round(ordered[-1], 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
    }


def route_figures(samples: list[Sample]) -> dict[str, dict[str, Any]]:
    by_route: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_route[sample.route].append(sample)
    order = list(ROUTES.values())
    return {
        route: {
            "requests": len(group),
            "errors": sum(s.error is not None for s in group),
            "statuses": dict(sorted(Counter(str(s.status) for s in group).items())),
            **latency([s.ms for s in group]),
        }
        for route, group in sorted(by_route.items(), key=lambda item: order.index(item[0]) if item[0] in order else 99)
    }


def error_kinds(samples: list[Sample]) -> dict[str, int]:
    """5xx, other unexpected statuses, transport failures, wrong content (invariant) and client bugs."""
    kinds: Counter[str] = Counter()
    for sample in samples:
        if sample.error is None:
            continue
        if sample.status >= 500:
            kinds["5xx"] += 1
        elif sample.error.startswith("invariant"):
            kinds["invariant"] += 1
        elif sample.status == 0:
            kinds["transport"] += 1
        elif sample.status < 0:
            kinds["client"] += 1
        else:
            kinds["unexpected status"] += 1
    return dict(kinds)


def summarize(result: RunResult) -> dict[str, Any]:
    samples = result.samples
    errors = [s for s in samples if s.error is not None]
    starts = ROUTES[START]
    return {
        "requests": len(samples),
        "clients": result.clients,
        "wall_s": round(result.wall_seconds, 3),
        "throughput_rps": round(len(samples) / result.wall_seconds, 1),
        **latency([s.ms for s in samples]),
        "errors": len(errors),
        "error_kinds": error_kinds(samples),
        "error_examples": [f"{s.route} -> {s.status}: {s.error}" for s in errors[:20]],
        "expected_refusals": dict(result.ledger.expected_refusals),
        "acknowledged": {
            "sessions": len(result.ledger.sessions),
            "sessions_completed": sum(s.completed_seq is not None for s in result.ledger.sessions.values()),
            "events": sum(len(s.acked) for s in result.ledger.sessions.values()),
            "event_answers_409_after_completion": sum(s.ended_answers for s in result.ledger.sessions.values()),
            "idempotent_replays": sum(1 for s in samples if s.route == starts and s.status == 200),
            "memories": sum(1 for m in result.ledger.memories.values() if m.answers),
            "memory_rewrites": sum(max(0, len(m.answers) - 1) for m in result.ledger.memories.values()),
        },
        "planned_mix": result.planned,
        "routes": route_figures(samples),
        "warmup": route_figures(result.warmup),
        "warmup_errors": [f"{s.route} -> {s.status}: {s.error}" for s in result.warmup if s.error is not None],
    }
