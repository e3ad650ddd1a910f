"""Realtime from the database: every event of a session (the runner's and the backend's own) is broadcast by
realtime.send inside the transaction that logs it, on the session's private channel, and only its user may receive
it (Supabase Realtime Authorization: the RLS policy on realtime.messages). Checked on the local stand-in of
Supabase's realtime schema (local/sql/realtime_standin.sql)."""

import json
import uuid
from typing import Any

import psycopg
import pytest

from tests.factories import User, create_user
from tests.runner_support import Runner, ask, cancel, in_parallel, load_functions, post_event, respond, runner_for


@pytest.fixture
def runner(admin: psycopg.Connection[Any], user: User) -> Runner:
    return runner_for(admin, user)


def topic(session_id: uuid.UUID) -> str:
    return f"agent-session:{session_id}"


def broadcasts(admin: psycopg.Connection[Any], session_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = admin.execute(
        "SELECT event, private, extension, payload FROM realtime.messages WHERE topic = %s ORDER BY (payload ->> 'seq')::int",
        (topic(session_id),),
    ).fetchall()
    return [{"event": e, "private": p, "extension": x, "payload": payload} for e, p, x, payload in rows]


def received_by(admin: psycopg.Connection[Any], claims: dict[str, Any] | None, channel: str) -> list[int]:
    """The seqs a client joining `channel` with these JWT claims may read, as Realtime checks it: the role and claims
    of the token, realtime.topic() set to the channel, then a SELECT on realtime.messages under RLS."""
    with admin.transaction(force_rollback=True):
        admin.execute(
            "SELECT set_config('role', %s, true), set_config('request.jwt.claims', %s, true),"
            " set_config('realtime.topic', %s, true)",
            ("authenticated" if claims else "anon", json.dumps(claims or {}), channel),
        )
        rows = admin.execute("SELECT (payload ->> 'seq')::int FROM realtime.messages WHERE topic = %s", (channel,)).fetchall()
    return sorted(row[0] for row in rows)


def claims_of(user: User) -> dict[str, Any]:
    return {"sub": str(user.id), "role": "authenticated"}


def test_an_event_is_broadcast_privately_on_its_sessions_channel(admin: psycopg.Connection[Any], runner: Runner) -> None:
    post_event(runner, runner.session_id, "step_started", step_name="Research competitors")

    [message] = broadcasts(admin, runner.session_id)
    assert (message["event"], message["private"], message["extension"]) == ("step_started", True, "broadcast")
    assert {key: message["payload"][key] for key in ("event", "seq", "step_name", "step_index")} == {
        "event": "step_started", "seq": 1, "step_name": "Research competitors", "step_index": 2}  # fmt: skip


def test_the_broadcast_is_the_logged_payload(admin: psycopg.Connection[Any], runner: Runner) -> None:
    post_event(runner, runner.session_id, "reasoning_update", reasoning="Hooks under 3 s win.")

    logged = admin.execute(
        "SELECT event_payload FROM agentmode.agent_execution_logs WHERE session_id = %s", (runner.session_id,)
    ).fetchone()
    assert logged is not None
    [message] = broadcasts(admin, runner.session_id)
    assert {key: value for key, value in message["payload"].items() if key != "id"} == logged[0]


def test_a_refused_event_broadcasts_nothing(admin: psycopg.Connection[Any], runner: Runner) -> None:
    post_event(runner, runner.session_id, "session_completed", status="success", result={})
    stranger = create_user(admin)

    post_event(stranger, runner.session_id, "reasoning_update", reasoning="not mine")

    assert [m["event"] for m in broadcasts(admin, runner.session_id)] == ["session_completed"]


def test_answers_and_cancels_are_broadcast_like_the_runners_events(
    admin: psycopg.Connection[Any], user: User, runner: Runner, runner_queue: Any
) -> None:
    asked = ask(runner, runner.session_id)
    respond(user, runner.session_id, asked.body["seq"], "concept_1")
    cancel(user, runner.session_id)

    assert [(m["event"], m["payload"]["seq"]) for m in broadcasts(admin, runner.session_id)] == [
        ("user_input_required", 1), ("user_response", 2), ("session_cancelled", 3)]  # fmt: skip


def test_a_failing_broadcast_does_not_fail_the_event(admin: psycopg.Connection[Any], runner: Runner) -> None:
    """Supabase's realtime.send turns its own failure into a WARNING; the event is logged and the client catches up
    from GET /agent/events."""
    admin.execute("ALTER TABLE realtime.messages ADD CONSTRAINT refuse_all CHECK (false) NOT VALID")
    try:
        result = post_event(runner, runner.session_id, "tool_called", tool_name="search")
    finally:
        admin.execute("ALTER TABLE realtime.messages DROP CONSTRAINT refuse_all")

    assert (result.status, result.body["seq"]) == (200, 1)
    assert broadcasts(admin, runner.session_id) == []


def test_concurrent_events_are_each_broadcast_once_with_gapless_seqs(
    admin: psycopg.Connection[Any], user: User, runner: Runner
) -> None:
    load_functions("agent_event")

    statuses = in_parallel(*(lambda n=n: post_event(runner, runner.session_id, "tool_called", tool_name=f"t{n}").status
                             for n in range(6)))  # fmt: skip

    assert statuses == [200] * 6
    assert [m["payload"]["seq"] for m in broadcasts(admin, runner.session_id)] == [1, 2, 3, 4, 5, 6]


@pytest.fixture
def three_events(admin: psycopg.Connection[Any], runner: Runner) -> Runner:
    for reasoning in ("one", "two", "three"):
        post_event(runner, runner.session_id, "reasoning_update", reasoning=reasoning)
    return runner


def test_the_sessions_user_receives_its_channel(admin: psycopg.Connection[Any], user: User, three_events: Runner) -> None:
    assert received_by(admin, claims_of(user), topic(three_events.session_id)) == [1, 2, 3]


def test_another_user_receives_nothing_of_the_channel(admin: psycopg.Connection[Any], three_events: Runner) -> None:
    assert received_by(admin, claims_of(create_user(admin)), topic(three_events.session_id)) == []


def test_an_anonymous_client_receives_nothing_of_the_channel(admin: psycopg.Connection[Any], three_events: Runner) -> None:
    assert received_by(admin, None, topic(three_events.session_id)) == []


@pytest.mark.parametrize("channel", ["agent-session:not-a-uuid", "agent-session:", "agent-session:*", "other:topic"])
def test_a_channel_that_names_no_session_receives_nothing_and_raises_nothing(
    admin: psycopg.Connection[Any], user: User, three_events: Runner, channel: str
) -> None:
    assert received_by(admin, claims_of(user), channel) == []


def test_a_join_to_ones_own_channel_opens_no_other_channel(
    admin: psycopg.Connection[Any], user: User, three_events: Runner
) -> None:
    """Joined to their own channel, the user still reads no other channel's messages."""
    other = runner_for(admin, create_user(admin))
    post_event(other, other.session_id, "reasoning_update", reasoning="theirs")
    with admin.transaction(force_rollback=True):
        admin.execute(
            "SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true),"
            " set_config('realtime.topic', %s, true)",
            (json.dumps(claims_of(user)), topic(three_events.session_id)),
        )
        theirs = admin.execute("SELECT count(*) FROM realtime.messages WHERE topic = %s", (topic(other.session_id),)).fetchone()
    assert theirs == (0,)
