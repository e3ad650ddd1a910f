"""Row level security holds even when a query forgets its user filter (the functions' transactions run as `authenticated`)."""

import uuid
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from agentmode.db import user_transaction
from agentmode.identity import AuthUser
from tests.factories import User, create_session


def as_user(user: User) -> AuthUser:
    return AuthUser(id=user.id, role="authenticated", email=None, claims={"sub": str(user.id), "role": "authenticated"})


def test_unfiltered_select_sees_only_the_callers_sessions(admin: psycopg.Connection[Any], user: User, other_user: User) -> None:
    mine = create_session(admin, user.id)
    create_session(admin, other_user.id)
    with user_transaction(as_user(user)) as conn:
        rows = conn.execute("SELECT id, user_id FROM agentmode.agent_sessions").fetchall()
    assert {row["id"] for row in rows} == {mine}


def test_inserting_a_row_for_another_user_is_refused(user: User, other_user: User) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege), user_transaction(as_user(user)) as conn:
        conn.execute("INSERT INTO agentmode.agent_sessions (user_id) VALUES (%s)", (other_user.id,))


def test_logging_into_another_users_session_is_refused(admin: psycopg.Connection[Any], user: User, other_user: User) -> None:
    theirs = create_session(admin, other_user.id)
    with pytest.raises(psycopg.errors.InsufficientPrivilege), user_transaction(as_user(user)) as conn:
        conn.execute(
            "INSERT INTO agentmode.agent_execution_logs (session_id, user_id, seq, action_type, event_payload)"
            " VALUES (%s, %s, 1, 'tool_called', '{}')",
            (theirs, user.id),
        )


def test_sessions_cannot_be_updated_directly_even_ones_own(admin: psycopg.Connection[Any], user: User) -> None:
    mine = create_session(admin, user.id)
    with pytest.raises(psycopg.errors.InsufficientPrivilege), user_transaction(as_user(user)) as conn:
        conn.execute("UPDATE agentmode.agent_sessions SET status = 'completed', last_seq = 0 WHERE id = %s", (mine,))
    assert admin.execute("SELECT status FROM agentmode.agent_sessions WHERE id = %s", (mine,)).fetchone()[0] == "initializing"


def test_event_rows_cannot_be_inserted_directly(admin: psycopg.Connection[Any], user: User) -> None:
    mine = create_session(admin, user.id)
    with pytest.raises(psycopg.errors.InsufficientPrivilege), user_transaction(as_user(user)) as conn:
        conn.execute(
            "INSERT INTO agentmode.agent_execution_logs (session_id, user_id, seq, action_type, event_payload)"
            " VALUES (%s, %s, 7, 'error', '{}')",
            (mine, user.id),
        )


def append_sql(conn: psycopg.Connection[Any], session: uuid.UUID, seq: int) -> None:
    state = {"status": "completed", "current_step": "x", "current_step_index": 8, "progress_percentage": 100,
             "completed_steps": [], "error_message": None, "result": None, "completed_at": None}  # fmt: skip
    conn.execute(
        "SELECT agentmode.append_session_event(%s, %s, %s, %s, '{}', %s, now())",
        (session, seq, uuid.uuid4(), Jsonb({"action_type": "session_completed"}), Jsonb(state)),
    )


def test_the_event_function_refuses_another_users_session(admin: psycopg.Connection[Any], user: User, other_user: User) -> None:
    theirs = create_session(admin, other_user.id)
    with pytest.raises(psycopg.errors.NoDataFound), user_transaction(as_user(user)) as conn:
        append_sql(conn, theirs, 1)
    assert admin.execute("SELECT last_seq FROM agentmode.agent_sessions WHERE id = %s", (theirs,)).fetchone()[0] == 0


@pytest.mark.parametrize("seq", [0, 2, 5])
def test_the_event_function_takes_only_the_next_seq(admin: psycopg.Connection[Any], user: User, seq: int) -> None:
    mine = create_session(admin, user.id)
    with pytest.raises(psycopg.errors.InvalidParameterValue), user_transaction(as_user(user)) as conn:
        append_sql(conn, mine, seq)


def test_the_event_function_refuses_an_ended_session(admin: psycopg.Connection[Any], user: User) -> None:
    mine = create_session(admin, user.id, status="completed")
    with pytest.raises(psycopg.errors.CheckViolation), user_transaction(as_user(user)) as conn:
        append_sql(conn, mine, 1)
    assert admin.execute("SELECT count(*) FROM agentmode.agent_execution_logs WHERE session_id = %s", (mine,)).fetchone()[0] == 0


def test_credits_cannot_be_written_directly(user: User) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege), user_transaction(as_user(user)) as conn:
        conn.execute("UPDATE agentmode.credit_balances SET balance = 1000000 WHERE user_id = %s", (user.id,))


@pytest.mark.parametrize(
    "call",
    [
        "SELECT * FROM agentmode.check_rate_limit(%s, 'agent_start', 10, 86400)",
        "SELECT agentmode.debit_credits(%s, 1)",
    ],
)
def test_functions_refuse_to_act_for_another_user(
    admin: psycopg.Connection[Any], user: User, other_user: User, call: str
) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege), user_transaction(as_user(user)) as conn:
        conn.execute(call, (other_user.id,))
    hits = admin.execute("SELECT count(*) FROM agentmode.rate_limit_hits WHERE user_id = %s", (other_user.id,)).fetchone()[0]
    assert hits == 0


def test_rate_limit_hits_are_invisible_to_users(user: User) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege), user_transaction(as_user(user)) as conn:
        conn.execute("SELECT * FROM agentmode.rate_limit_hits")
