"""Realtime failing: every event is still acknowledged, stored exactly once and numbered without gaps, and a client
that missed broadcasts catches up from GET /agent/events.

Events are broadcast by realtime.send inside their own transaction (docs/architecture.md, "Realtime"); Supabase's
realtime.send turns its failure into a WARNING (a missing partition of realtime.messages, say). Here the local
stand-in's messages table refuses rows through a CHECK constraint: for every broadcast, or for every other one.
"""

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.factories import User, create_session
from tests.lambda_invoke import Result, invoke
from tests.runner_support import in_parallel, load_functions


@pytest.fixture
def session(admin: psycopg.Connection[Any], user: User) -> uuid.UUID:
    return create_session(admin, user.id)


@pytest.fixture
def refusing(admin: psycopg.Connection[Any]) -> Iterator[Any]:
    """`refusing("<condition on payload>")`: realtime.messages refuses the broadcasts that meet it, until the test ends."""
    added: list[str] = []

    def refuse(condition: str) -> None:
        admin.execute(f"ALTER TABLE realtime.messages ADD CONSTRAINT refuse_broadcasts CHECK (NOT ({condition})) NOT VALID")
        added.append(condition)

    yield refuse
    if added:
        admin.execute("ALTER TABLE realtime.messages DROP CONSTRAINT refuse_broadcasts")


def send(user: User, session: uuid.UUID, n: int) -> Result:
    body = {"session_id": str(session), "action_type": "tool_called", "tool_name": f"search-{n}"}
    return invoke("POST", "/agent/event", headers=user.auth, json_body=body)


def stored(admin: psycopg.Connection[Any], session: uuid.UUID) -> list[tuple[int, str]]:
    rows = admin.execute(
        "SELECT seq, tool_name FROM agentmode.agent_execution_logs WHERE session_id = %s ORDER BY seq", (session,)
    ).fetchall()
    return [(int(seq), str(tool)) for seq, tool in rows]


def broadcast_seqs(admin: psycopg.Connection[Any], session: uuid.UUID) -> list[int]:
    rows = admin.execute(
        "SELECT (payload ->> 'seq')::int FROM realtime.messages WHERE topic = %s ORDER BY 1", (f"agent-session:{session}",)
    ).fetchall()
    return [row[0] for row in rows]


def test_events_with_every_broadcast_failing_are_acknowledged_stored_once_and_numbered(
    admin: psycopg.Connection[Any], user: User, session: uuid.UUID, refusing: Any
) -> None:
    refusing("true")

    results = [send(user, session, n) for n in range(12)]

    assert [(r.status, r.body["seq"]) for r in results] == [(200, n) for n in range(1, 13)]
    assert stored(admin, session) == [(n + 1, f"search-{n}") for n in range(12)]
    assert broadcast_seqs(admin, session) == []


def test_a_client_catches_up_on_missed_broadcasts_from_the_event_log(
    admin: psycopg.Connection[Any], user: User, session: uuid.UUID, refusing: Any
) -> None:
    refusing("(payload ->> 'seq')::int <= 3")
    for n in range(5):
        send(user, session, n)

    missed = invoke("GET", "/agent/events", headers=user.auth, query={"session_id": str(session), "after_seq": "0"})

    assert broadcast_seqs(admin, session) == [4, 5]
    assert [event["seq"] for event in missed.body["events"]] == [1, 2, 3, 4, 5]


def test_concurrent_writers_with_every_other_broadcast_failing_get_unique_gapless_seqs(
    admin: psycopg.Connection[Any], user: User, session: uuid.UUID, refusing: Any
) -> None:
    refusing("(payload ->> 'seq')::int % 2 = 1")
    load_functions("agent_event")
    writers, per_writer = 4, 5

    def write(writer: int) -> list[Result]:
        return [send(user, session, writer * 100 + n) for n in range(per_writer)]

    results = [r for batch in in_parallel(*(lambda w=w: write(w) for w in range(writers))) for r in batch]

    total = writers * per_writer
    assert sorted(r.status for r in results) == [200] * total
    assert sorted(r.body["seq"] for r in results) == list(range(1, total + 1))
    assert [seq for seq, _ in stored(admin, session)] == list(range(1, total + 1))
    assert broadcast_seqs(admin, session) == list(range(2, total + 1, 2))
