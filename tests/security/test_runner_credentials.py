"""A runner credential (docs/runner.md) acts for one session: its events, its status, the user's memories (read), the
step-7 memories (write), while the run lives; nothing else, and never after the run ended."""

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import psycopg
import pytest

from agentmode import runner_credentials
from agentmode.settings import get_settings
from tests.factories import TEST_JWT_SECRET, TEST_RUNNER_SECRET, User, create_user
from tests.lambda_invoke import Result, invoke
from tests.log_capture import captured_logs
from tests.runner_support import Runner, cancel, logged_events, post_event, runner_for


@pytest.fixture
def runner(admin: psycopg.Connection[Any], user: User) -> Runner:
    return runner_for(admin, user)


def assert_unauthorized(result: Result) -> None:
    assert result.status == 401, result.body
    assert result.body["error_code"] == "UNAUTHORIZED"


def signed(claims: dict[str, Any], secret: str = TEST_RUNNER_SECRET, kid: str = "agentmode-runner") -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": kid})


def runner_claims(runner: Runner, user: User, **changes: Any) -> dict[str, Any]:
    claims = {
        "iss": "agentmode",
        "aud": "agentmode-runner",
        "sub": str(user.id),
        "runner_session": str(runner.session_id),
        "exp": int(time.time()) + 600,
    }
    return {key: value for key, value in {**claims, **changes}.items() if value is not None}


def as_runner(token: str) -> Runner:
    return Runner(uuid.uuid4(), token)


def test_a_runner_posts_the_events_of_its_session(admin: psycopg.Connection[Any], runner: Runner) -> None:
    result = post_event(runner, runner.session_id, "step_started", step_name="Analyze brand memory")

    assert result.status == 200
    assert result.body["seq"] == 1
    assert [event["event"] for event in logged_events(admin, runner.session_id)] == ["step_started"]


def test_the_users_own_token_still_posts_events(admin: psycopg.Connection[Any], user: User, runner: Runner) -> None:
    assert post_event(user, runner.session_id, "step_started", step_name="Analyze brand memory").status == 200


def test_a_runner_cannot_post_to_another_session_of_the_same_user(
    admin: psycopg.Connection[Any], user: User, runner: Runner
) -> None:
    other = runner_for(admin, user)

    result = post_event(runner, other.session_id, "step_started", step_name="Analyze brand memory")

    assert result.status == 404
    assert result.body["error_code"] == "SESSION_NOT_FOUND"
    assert logged_events(admin, other.session_id) == []


def test_a_runner_cannot_post_to_another_users_session(admin: psycopg.Connection[Any], runner: Runner) -> None:
    stranger = runner_for(admin, create_user(admin))

    result = post_event(runner, stranger.session_id, "step_started", step_name="Analyze brand memory")

    assert result.status == 404
    assert logged_events(admin, stranger.session_id) == []


def test_a_runner_reads_the_status_and_events_of_its_session(runner: Runner) -> None:
    post_event(runner, runner.session_id, "step_started", step_name="Analyze brand memory")

    status = invoke("GET", "/agent/status", headers=runner.auth, query={"session_id": str(runner.session_id)})
    events = invoke("GET", "/agent/events", headers=runner.auth, query={"session_id": str(runner.session_id)})

    assert (status.status, status.body["status"]) == (200, "analyzing_brand_memory")
    assert [event["seq"] for event in events.body["events"]] == [1]


def test_a_runner_cannot_read_another_sessions_status(admin: psycopg.Connection[Any], user: User, runner: Runner) -> None:
    other = runner_for(admin, user)

    result = invoke("GET", "/agent/status", headers=runner.auth, query={"session_id": str(other.session_id)})

    assert result.status == 404


def test_a_runner_reads_the_users_memories_within_the_users_read_quota(
    admin: psycopg.Connection[Any], user: User, runner: Runner
) -> None:
    written = invoke("POST", "/agent/write-memory", headers=user.auth,
                     json_body={"memory_type": "preference", "content": "Prefers square videos."})  # fmt: skip

    result = invoke("GET", "/agent/read-memory", headers=runner.auth, query={"query": "video format"})

    assert result.status == 200
    assert [memory["id"] for memory in result.body["results"]] == [written.body["memory"]["id"]]
    hits = admin.execute(
        "SELECT count(*) FROM agentmode.rate_limit_hits WHERE user_id = %s AND action = 'memory_read'", (user.id,)
    ).fetchone()
    assert hits is not None
    assert hits[0] == 1


@pytest.mark.parametrize("memory_type", ["insight", "campaign_result"])
def test_a_runner_writes_step_7_memories_for_the_user(
    admin: psycopg.Connection[Any], user: User, runner: Runner, memory_type: str
) -> None:
    body = {"memory_type": memory_type, "content": "Short hooks beat long intros for this brand."}

    result = invoke("POST", "/agent/write-memory", headers=runner.auth, json_body=body)

    assert result.status == 201
    assert result.body["memory"]["user_id"] == str(user.id)
    row = admin.execute("SELECT memory_type FROM agentmode.agent_memory WHERE id = %s", (result.body["memory"]["id"],)).fetchone()
    assert row == (memory_type,)


@pytest.mark.parametrize("memory_type", ["brand_memory", "preference", "competitor"])
def test_a_runner_may_not_write_the_users_own_kinds_of_memory(
    admin: psycopg.Connection[Any], user: User, runner: Runner, memory_type: str
) -> None:
    body = {"memory_type": memory_type, "content": "Brand voice: shouty."}

    result = invoke("POST", "/agent/write-memory", headers=runner.auth, json_body=body)

    assert result.status == 403
    assert result.body["error_code"] == "ROLE_NOT_ALLOWED"
    count = admin.execute(
        "SELECT count(*) FROM agentmode.agent_memory WHERE user_id = %s AND content = 'Brand voice: shouty.'", (user.id,)
    ).fetchone()
    assert count == (0,)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/agent/start", {"goal": "Another run"}),
        ("POST", "/agent/respond", {"session_id": str(uuid.uuid4()), "question_seq": 1, "value": "x"}),
        ("POST", "/agent/cancel", {"session_id": str(uuid.uuid4())}),
        ("GET", "/opsboard/orgs", None),
        ("GET", "/opsboard/users/me", None),
    ],
)
def test_a_runner_credential_is_refused_on_routes_no_runner_calls(
    admin: psycopg.Connection[Any], user: User, runner: Runner, method: str, path: str, body: dict[str, Any] | None
) -> None:
    result = invoke(method, path, headers=runner.auth, json_body=body)

    assert_unauthorized(result)
    count = admin.execute("SELECT count(*) FROM agentmode.agent_sessions WHERE user_id = %s", (user.id,)).fetchone()
    assert count == (1,)


def test_a_runner_credential_is_refused_once_its_session_completed(runner: Runner) -> None:
    post_event(runner, runner.session_id, "session_completed", status="success", result={"videos": []})

    assert_unauthorized(post_event(runner, runner.session_id, "reasoning_update", reasoning="one more thought"))
    assert_unauthorized(invoke("GET", "/agent/status", headers=runner.auth, query={"session_id": str(runner.session_id)}))
    assert_unauthorized(invoke("GET", "/agent/read-memory", headers=runner.auth, query={"query": "brand"}))


def test_a_runner_credential_is_refused_once_its_run_was_cancelled(
    admin: psycopg.Connection[Any], user: User, runner: Runner
) -> None:
    assert cancel(user, runner.session_id).status == 200

    result = post_event(runner, runner.session_id, "reasoning_update", reasoning="still thinking")

    assert_unauthorized(result)
    assert [event["event"] for event in logged_events(admin, runner.session_id)] == ["session_cancelled"]


def test_an_expired_runner_credential_is_refused(admin: psycopg.Connection[Any], user: User, runner: Runner) -> None:
    expired = runner_credentials.issue(runner.session_id, user.id, datetime.now(UTC) - timedelta(minutes=1), get_settings())

    assert_unauthorized(post_event(Runner(runner.session_id, expired), runner.session_id, "step_started",
                                   step_name="Analyze brand memory"))  # fmt: skip


@pytest.mark.parametrize(
    "forgery",
    [
        "signed with another key",
        "signed with the Supabase JWT secret",
        "other audience",
        "other issuer",
        "no session claim",
        "session claim not a uuid",
        "subject is not the session's user",
        "no expiry",
        "alg none",
    ],
)
def test_a_forged_runner_credential_is_refused(admin: psycopg.Connection[Any], user: User, runner: Runner, forgery: str) -> None:
    stranger = create_user(admin)
    token = {
        "signed with another key": lambda: signed(runner_claims(runner, user), secret="another-key-of-at-least-32-bytes-long"),
        "signed with the Supabase JWT secret": lambda: signed(runner_claims(runner, user), secret=TEST_JWT_SECRET),
        "other audience": lambda: signed(runner_claims(runner, user, aud="authenticated")),
        "other issuer": lambda: signed(runner_claims(runner, user, iss="https://example.supabase.co/auth/v1")),
        "no session claim": lambda: signed(runner_claims(runner, user, runner_session=None)),
        "session claim not a uuid": lambda: signed(runner_claims(runner, user, runner_session="*")),
        "subject is not the session's user": lambda: signed(runner_claims(runner, stranger, sub=str(stranger.id))),
        "no expiry": lambda: signed(runner_claims(runner, user, exp=None)),
        "alg none": lambda: jwt.encode(runner_claims(runner, user), None, algorithm="none", headers={"kid": "agentmode-runner"}),
    }[forgery]()

    result = post_event(Runner(runner.session_id, token), runner.session_id, "step_started", step_name="Analyze brand memory")

    assert_unauthorized(result)
    assert logged_events(admin, runner.session_id) == []


def test_a_user_token_relabelled_as_a_runner_credential_is_refused(user: User, runner: Runner) -> None:
    claims = jwt.decode(user.token, options={"verify_signature": False})
    relabelled = jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256", headers={"kid": "agentmode-runner"})

    assert_unauthorized(post_event(Runner(runner.session_id, relabelled), runner.session_id, "step_started",
                                   step_name="Analyze brand memory"))  # fmt: skip


def test_the_start_message_carries_a_credential_for_the_new_session(
    admin: psycopg.Connection[Any], user: User, runner_queue: Any
) -> None:
    started = invoke("POST", "/agent/start", headers=user.auth, json_body={"goal": "Ads for my app"})
    [(group, message)] = runner_queue.receive()

    assert message.type == "start"
    assert group == started.body["session_id"] == str(message.session_id)
    credential = message.credential.token  # type: ignore[union-attr]
    event = post_event(
        Runner(message.session_id, credential), message.session_id, "step_started", step_name="Analyze brand memory"
    )
    assert event.status == 200
    claims = jwt.decode(credential, options={"verify_signature": False})
    deadline = admin.execute("SELECT deadline_at FROM agentmode.agent_sessions WHERE id = %s", (message.session_id,)).fetchone()
    assert deadline is not None
    assert claims["exp"] == int(deadline[0].timestamp())


def test_a_runner_credential_never_reaches_the_logs(runner: Runner) -> None:
    with captured_logs() as logs:
        post_event(runner, runner.session_id, "step_started", step_name="Analyze brand memory")
        invoke("POST", "/agent/start", headers=runner.auth, json_body={"goal": "x"})

    assert runner.token not in logs.buffer.getvalue()
    assert runner.token.split(".")[2] not in logs.buffer.getvalue()


def test_the_database_limits_runner_claims_to_their_session(admin: psycopg.Connection[Any], user: User, runner: Runner) -> None:
    """Row level, whatever a function's query asks: the `runner_session` claim hides other sessions and their logs,
    and lets no brand memory be written."""
    other = runner_for(admin, user)
    post_event(user, other.session_id, "step_started", step_name="Analyze brand memory")
    claims = {"sub": str(user.id), "role": "authenticated", "runner_session": str(runner.session_id)}
    with admin.transaction(force_rollback=True):
        admin.execute(
            "SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)", (json.dumps(claims),)
        )
        sessions = admin.execute("SELECT id FROM agentmode.agent_sessions").fetchall()
        logs = admin.execute("SELECT count(*) FROM agentmode.agent_execution_logs").fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            admin.execute(
                "INSERT INTO agentmode.agent_memory (user_id, memory_type, content) VALUES (%s, 'brand_memory', 'x')",
                (user.id,),
            )

    assert sessions == [(runner.session_id,)]
    assert logs == (0,)
