"""Row level security holds even when a query forgets its user filter (the functions' transactions run as `authenticated`)."""

import uuid
from typing import Any

import psycopg
import pytest

from agentmode.auth import AuthUser
from agentmode.db import user_transaction
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


def test_updating_another_users_session_changes_nothing(admin: psycopg.Connection[Any], user: User, other_user: User) -> None:
    theirs = create_session(admin, other_user.id)
    with user_transaction(as_user(user)) as conn:
        changed = conn.execute("UPDATE agentmode.agent_sessions SET status = 'failed' WHERE id = %s", (theirs,)).rowcount
    assert changed == 0
    assert admin.execute("SELECT status FROM agentmode.agent_sessions WHERE id = %s", (theirs,)).fetchone()[0] == "initializing"


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


def test_rate_limit_counts_exactly_up_to_the_limit(user: User) -> None:
    action = f"test-{uuid.uuid4()}"
    outcomes = []
    for _ in range(4):
        with user_transaction(as_user(user)) as conn:
            row = conn.execute("SELECT * FROM agentmode.check_rate_limit(%s, %s, 3, 60)", (user.id, action)).fetchone()
            outcomes.append((row["exceeded"], row["remaining"]))
    assert outcomes == [(False, 2), (False, 1), (False, 0), (True, 0)]
