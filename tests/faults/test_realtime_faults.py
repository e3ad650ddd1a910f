"""Realtime failing, slow or hung: every event is still acknowledged, stored exactly once and numbered without gaps.

Already covered in tests/functional/test_agent_event.py: one 500 then recovery delivers both events in order
(test_realtime_failure_keeps_the_event_and_the_next_event_delivers_both_in_order) and a refused endpoint
(test_unreachable_realtime_does_not_fail_the_request). Here: many events, timeouts and their bound, flapping, and
concurrent writers.
"""

import asyncio
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from agentmode import db
from tests.factories import User, create_session
from tests.faults.conftest import Configure
from tests.faults.stubs import BlackHole, Reply, Request, ScriptedServer
from tests.faults.support import lambda_timeout, timed
from tests.lambda_invoke import Result, invoke

SERVICE_KEY = "service-role-key-for-fault-tests"
REALTIME_TIMEOUT = 0.3


class Realtime(ScriptedServer):
    """Supabase's broadcast endpoint, answering `fail` (a status or a delay past the timeout) when `fails(index)`."""

    def __init__(self) -> None:
        self.fails: Callable[[int], bool] = lambda index: True
        self.failure = Reply(500, b'{"message":"internal error"}')
        super().__init__(self._answer)

    def _answer(self, request: Request, index: int) -> Reply:
        return self.failure if self.fails(index) else Reply(202)

    def seqs_per_request(self) -> list[list[int]]:
        return [[m["payload"]["seq"] for m in json.loads(r.body)["messages"]] for r in self.requests]


@pytest.fixture
def realtime(configure: Configure) -> Iterator[Realtime]:
    server = Realtime()
    configure(SUPABASE_URL=server.url, SUPABASE_SERVICE_ROLE_KEY=SERVICE_KEY, REALTIME_TIMEOUT_SECONDS=str(REALTIME_TIMEOUT))
    yield server
    server.close()


@pytest.fixture
def session(admin: psycopg.Connection[Any], user: User) -> uuid.UUID:
    return create_session(admin, user.id)


def send(user: User, session: uuid.UUID, n: int) -> Result:
    body = {"session_id": str(session), "action_type": "tool_called", "tool_name": f"search-{n}"}
    return invoke("POST", "/agent/event", headers=user.auth, json_body=body)


def logged(admin: psycopg.Connection[Any], session: uuid.UUID) -> list[tuple[int, str, bool]]:
    """(seq, tool_name, published) of every stored event, in seq order."""
    rows = admin.execute(
        "SELECT seq, tool_name, published_at IS NOT NULL FROM agentmode.agent_execution_logs WHERE session_id = %s ORDER BY seq",
        (session,),
    ).fetchall()
    return [(int(r[0]), str(r[1]), bool(r[2])) for r in rows]


def test_twelve_events_with_realtime_down_are_all_acknowledged_stored_once_and_delivered_in_order_on_recovery(
    admin: psycopg.Connection[Any], user: User, session: uuid.UUID, realtime: Realtime
) -> None:
    acknowledged = [send(user, session, n) for n in range(1, 13)]
    assert [(r.status, r.body["seq"]) for r in acknowledged] == [(200, n) for n in range(1, 13)]
    assert logged(admin, session) == [(n, f"search-{n}", False) for n in range(1, 13)]
    page = invoke("GET", "/agent/events", headers=user.auth, query={"session_id": str(session)})
    assert [e["seq"] for e in page.body["events"]] == list(range(1, 13))

    realtime.fails = lambda index: False
    assert send(user, session, 13).body["seq"] == 13
    assert realtime.seqs_per_request()[-1] == list(range(1, 14))
    assert logged(admin, session) == [(n, f"search-{n}", True) for n in range(1, 14)]


def test_realtime_failing_every_other_call_loses_no_event_and_delivers_each_in_order(
    admin: psycopg.Connection[Any], user: User, session: uuid.UUID, realtime: Realtime
) -> None:
    realtime.fails = lambda index: index % 2 == 0
    statuses = [send(user, session, n).status for n in range(1, 11)]
    assert statuses == [200] * 10
    assert logged(admin, session) == [(n, f"search-{n}", True) for n in range(1, 11)]
    deliveries = realtime.seqs_per_request()
    assert all(seqs == sorted(seqs) for seqs in deliveries)
    delivered = [seqs for index, seqs in enumerate(deliveries) if not realtime.fails(index)]
    assert sorted(seq for seqs in delivered for seq in seqs) == list(range(1, 11))


def test_slow_realtime_is_cut_at_its_timeout_and_the_event_is_acknowledged(
    admin: psycopg.Connection[Any], user: User, session: uuid.UUID, realtime: Realtime
) -> None:
    realtime.failure = Reply(202, delay_seconds=REALTIME_TIMEOUT + 1.0)
    result, elapsed = timed(lambda: send(user, session, 1))
    assert (result.status, result.body["seq"]) == (200, 1)
    assert elapsed < REALTIME_TIMEOUT + 1.0
    assert logged(admin, session) == [(1, "search-1", False)]


def test_hung_realtime_is_cut_at_its_timeout_and_the_event_is_acknowledged(
    admin: psycopg.Connection[Any], user: User, session: uuid.UUID, configure: Configure
) -> None:
    hole = BlackHole()
    configure(SUPABASE_URL=hole.url, SUPABASE_SERVICE_ROLE_KEY=SERVICE_KEY, REALTIME_TIMEOUT_SECONDS=str(REALTIME_TIMEOUT))
    try:
        result, elapsed = timed(lambda: send(user, session, 1))
    finally:
        hole.close()
    assert (result.status, result.body["seq"]) == (200, 1)
    assert REALTIME_TIMEOUT <= elapsed < REALTIME_TIMEOUT + 1.0
    assert logged(admin, session) == [(1, "search-1", False)]


def test_default_realtime_timeout_leaves_room_in_the_event_function_timeout() -> None:
    from agentmode.settings import Settings

    assert Settings.model_fields["realtime_timeout_seconds"].default * 2 < lambda_timeout("POST", "/agent/event")


def test_concurrent_writers_with_flapping_realtime_get_unique_gapless_seqs(
    admin: psycopg.Connection[Any], user: User, session: uuid.UUID, realtime: Realtime
) -> None:
    realtime.fails = lambda index: index % 2 == 1
    writers, per_writer = 4, 5
    barrier = threading.Barrier(writers)
    results: list[Result] = []

    def write(writer: int) -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        barrier.wait()
        try:
            for n in range(per_writer):
                results.append(send(user, session, writer * 100 + n))
        finally:
            db.close_connection()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = writers * per_writer
    assert sorted(r.status for r in results) == [200] * total
    assert sorted(r.body["seq"] for r in results) == list(range(1, total + 1))
    rows = logged(admin, session)
    assert [seq for seq, _, _ in rows] == list(range(1, total + 1))
    assert sorted(tool for _, tool, _ in rows) == sorted(
        f"search-{w * 100 + n}" for w in range(writers) for n in range(per_writer)
    )
    assert {r.body["seq"]: r.body["log_id"] for r in results} == dict(
        admin.execute("SELECT seq, id::text FROM agentmode.agent_execution_logs WHERE session_id = %s", (session,)).fetchall()
    )
