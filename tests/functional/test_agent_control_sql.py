"""agentmode.answer_question and agentmode.cancel_run, the one database call of POST /agent/respond and POST
/agent/cancel, called as a user with SQL of their own: they act on the caller's sessions only, never for a runner,
and log the event exactly as the Python of the other events would."""

import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from agentmode import questions, session_log
from agentmode.db import user_transaction
from agentmode.identity import AuthUser
from agentmode.runner_credentials import RUNNER_CLAIM
from tests.factories import User, create_session
from tests.runner_support import asking_session, questions_of, session_row

ANSWER = "SELECT * FROM agentmode.answer_question(%s, 1, 'a', now(), %s)"
CANCEL = "SELECT * FROM agentmode.cancel_run(%s, now())"


def as_user(user: User) -> AuthUser:
    return AuthUser(id=user.id, role="authenticated", email=None, claims={"sub": str(user.id), "role": "authenticated"})


def as_runner(user: User, session_id: uuid.UUID) -> AuthUser:
    claims = {"sub": str(user.id), "role": "authenticated", RUNNER_CLAIM: str(session_id)}
    return AuthUser(id=user.id, role="authenticated", email=None, claims=claims, runner_session=session_id)


def test_answering_another_users_question_finds_no_session_and_changes_nothing(
    admin: psycopg.Connection[Any], user: User, other_user: User
) -> None:
    session_id = asking_session(admin, other_user.id)

    with user_transaction(as_user(user)) as conn:
        found = conn.execute(ANSWER, (session_id, questions.STEP_STATUSES)).fetchone()

    assert found is not None
    assert found["outcome"] == "not_found"
    assert questions_of(admin, session_id)[0]["answered_at"] is None
    assert session_row(admin, session_id)["last_seq"] == 1


def test_cancelling_another_users_run_finds_no_session_and_changes_nothing(
    admin: psycopg.Connection[Any], user: User, other_user: User
) -> None:
    session_id = create_session(admin, other_user.id, credits_charged=3)

    with user_transaction(as_user(user)) as conn:
        found = conn.execute(CANCEL, (session_id,)).fetchone()

    assert found is not None
    assert found["outcome"] == "not_found"
    row = session_row(admin, session_id)
    assert (row["status"], row["last_seq"], row["credits_refunded"]) == ("initializing", 0, 0)


@pytest.mark.parametrize("call", [ANSWER, CANCEL], ids=["answer", "cancel"])
def test_a_runner_of_the_session_is_refused(admin: psycopg.Connection[Any], user: User, call: str) -> None:
    session_id = asking_session(admin, user.id)
    params = (session_id, questions.STEP_STATUSES) if call == ANSWER else (session_id,)

    with pytest.raises(psycopg.errors.InsufficientPrivilege), user_transaction(as_runner(user, session_id)) as conn:
        conn.execute(call, params)

    assert (session_row(admin, session_id)["status"], questions_of(admin, session_id)[0]["answered_at"]) == (
        "awaiting_input",
        None,
    )


@pytest.mark.parametrize(
    "at", [datetime(2026, 12, 4, 10, 23, 54, 120450, tzinfo=UTC), datetime(2026, 12, 4, 10, 23, 54, tzinfo=UTC)]
)
def test_the_event_payload_is_the_one_python_builds(admin: psycopg.Connection[Any], at: datetime) -> None:
    session_id, log_id = uuid.uuid4(), uuid.uuid4()
    fields = {"question_seq": 3, "value": "a", "label": None, "answered_by": "user"}

    row = admin.execute(
        "SELECT agentmode.server_event_payload('user_response', %s, 4, %s, %s, %s)",
        (session_id, log_id, psycopg.types.json.Jsonb(fields), at),
    ).fetchone()

    assert row is not None
    assert row[0] == session_log.realtime_payload("user_response", session_id, 4, log_id, fields, at)
