"""A function deployed as template.yaml deploys it: no secret values in its environment, only <SETTING>_SECRET_ID,
read at run time through the Parameters and Secrets Extension (here its loopback stand-in)."""

import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from agentmode import db
from agentmode.runtime_secrets import forget_secrets
from local.token import mint_token
from tests.conftest import reset_function_state
from tests.factories import TEST_JWT_SECRET, User, create_session
from tests.lambda_invoke import Result, invoke
from tests.log_capture import LogOutput
from tests.secrets_extension_stub import SecretsExtensionStub

DATABASE_URL_ID = "agentmode/test/DATABASE_URL"
JWT_SECRET_ID = "agentmode/test/SUPABASE_JWT_SECRET"
ROTATED_JWT_SECRET = "rotated-secret-for-hs256-tokens-at-least-32-bytes"
CACHE_SECONDS = 1


def fresh_container() -> None:
    reset_function_state()
    forget_secrets()


@pytest.fixture
def extension(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[SecretsExtensionStub]:
    """The function's environment as template.yaml gives it: secret ids, no DATABASE_URL or SUPABASE_JWT_SECRET."""
    stub = SecretsExtensionStub()
    stub.put(DATABASE_URL_ID, database_url)
    stub.put(JWT_SECRET_ID, TEST_JWT_SECRET)
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.delenv("SUPABASE_JWT_SECRET")
    for name, value in {
        **stub.environment,
        "DATABASE_URL_SECRET_ID": DATABASE_URL_ID,
        "SUPABASE_JWT_SECRET_SECRET_ID": JWT_SECRET_ID,
        "SECRETS_CACHE_SECONDS": str(CACHE_SECONDS),
    }.items():
        monkeypatch.setenv(name, value)
    fresh_container()
    yield stub
    stub.close()
    monkeypatch.undo()
    fresh_container()


def status(token: str, session_id: uuid.UUID) -> Result:
    return invoke("GET", "/agent/status", headers={"authorization": f"Bearer {token}"}, query={"session_id": str(session_id)})


def past_the_cache_age() -> None:
    time.sleep(CACHE_SECONDS + 0.1)


def test_a_function_given_only_secret_ids_answers_200_through_the_extension(
    admin: psycopg.Connection[Any], user: User, extension: SecretsExtensionStub
) -> None:
    result = status(user.token, create_session(admin, user.id))

    assert result.status == 200
    assert (extension.reads_of(DATABASE_URL_ID), extension.reads_of(JWT_SECRET_ID)) == (1, 1)
    assert {r["headers"]["x-aws-parameters-secrets-token"] for r in extension.requests} == {extension.session_token}


def test_requests_within_the_cache_age_read_each_secret_once(
    admin: psycopg.Connection[Any], user: User, extension: SecretsExtensionStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRETS_CACHE_SECONDS", "300")
    fresh_container()
    session_id = create_session(admin, user.id)

    statuses = [status(user.token, session_id).status for _ in range(5)]

    assert statuses == [200] * 5
    assert (extension.reads_of(DATABASE_URL_ID), extension.reads_of(JWT_SECRET_ID)) == (1, 1)


def test_a_rotated_jwt_secret_is_used_once_the_cache_age_has_passed(
    admin: psycopg.Connection[Any], user: User, extension: SecretsExtensionStub
) -> None:
    session_id = create_session(admin, user.id)
    rotated_token = mint_token(user.id, ROTATED_JWT_SECRET)
    assert status(user.token, session_id).status == 200

    extension.put(JWT_SECRET_ID, ROTATED_JWT_SECRET)
    within_the_age = (status(user.token, session_id).status, status(rotated_token, session_id).status)
    past_the_cache_age()
    after_the_age = (status(user.token, session_id).status, status(rotated_token, session_id).status)

    assert within_the_age == (200, 401)
    assert after_the_age == (401, 200)


@pytest.fixture
def rotated_login(admin: psycopg.Connection[Any], database_url: str) -> Iterator[tuple[str, str]]:
    """A second login role for the same database, as a credential rotation creates one: (role, its URL)."""
    role = f"agentmode_rotated_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE ROLE "{role}" LOGIN SUPERUSER')
    params = conninfo_to_dict(database_url)
    params["user"] = role
    yield role, make_conninfo(**params)
    db.close_connection()
    admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
    admin.execute(f'DROP ROLE "{role}"')


def sessions_of(admin: psycopg.Connection[Any], role: str) -> int:
    row = admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND application_name = 'agentmode'", (role,)
    ).fetchone()
    return int(row[0])


def test_a_rotated_database_url_is_used_by_the_next_connection_and_the_open_one_stays(
    admin: psycopg.Connection[Any], user: User, extension: SecretsExtensionStub, rotated_login: tuple[str, str]
) -> None:
    role, rotated_url = rotated_login
    session_id = create_session(admin, user.id)
    assert status(user.token, session_id).status == 200

    extension.put(DATABASE_URL_ID, rotated_url)
    past_the_cache_age()
    on_the_open_connection = (status(user.token, session_id).status, sessions_of(admin, role))
    db.close_connection()
    on_a_new_connection = (status(user.token, session_id).status, sessions_of(admin, role))

    assert on_the_open_connection == (200, 0)
    assert on_a_new_connection == (200, 1)


def test_extension_down_on_a_cold_container_answers_503_and_logs_the_setting(
    admin: psycopg.Connection[Any], user: User, extension: SecretsExtensionStub, logs: LogOutput
) -> None:
    session_id = create_session(admin, user.id)
    extension.close()

    result = status(user.token, session_id)

    assert (result.status, result.body["error_code"]) == (503, "SERVICE_UNAVAILABLE")
    assert result.body["details"] == {"service": "secrets", "reason": "extension unreachable", "retry_after_ms": 1000}
    [line] = logs.lines("secret unavailable")
    assert (line["level"], line["setting"]) == ("ERROR", "SUPABASE_JWT_SECRET")


def test_extension_down_on_a_warm_container_serves_the_cached_values_and_logs_no_value(
    admin: psycopg.Connection[Any], user: User, extension: SecretsExtensionStub, logs: LogOutput, database_url: str
) -> None:
    session_id = create_session(admin, user.id)
    assert status(user.token, session_id).status == 200
    extension.close()
    past_the_cache_age()
    db.close_connection()

    result = status(user.token, session_id)

    assert result.status == 200
    warned = {line["setting"] for line in logs.lines("secret read failed: serving the cached value")}
    assert warned == {"SUPABASE_JWT_SECRET", "DATABASE_URL"}
    assert TEST_JWT_SECRET not in logs.text()
    assert database_url not in logs.text()
