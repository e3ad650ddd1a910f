"""The AgentOps dashboard sends its token in the `session_id` cookie (fetch with credentials), not in Authorization.
The cookie is accepted as the bearer token is; a write carrying only the cookie must come from one of the web app's
exact origins (CORS_ALLOW_ORIGINS), since a browser attaches cookies to a forged cross-site request too."""

import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import psycopg
import pytest

from tests.conftest import reset_function_state
from tests.factories import User
from tests.lambda_invoke import Result, invoke

WEB_APP = "https://app.example"


@pytest.fixture(autouse=True)
def web_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", f"{WEB_APP},https://*")
    reset_function_state()
    yield
    monkeypatch.undo()
    reset_function_state()


def cookie(token: str, **headers: str) -> dict[str, str]:
    return {"cookie": f"theme=dark; session_id={token}", **headers}


def rename(user: User, headers: dict[str, str]) -> Result:
    return invoke("PUT", "/opsboard/users/me", headers=headers, json_body={"full_name": f"Renamed {uuid.uuid4().hex[:6]}"})


def full_name(admin: psycopg.Connection[Any], user: User) -> str | None:
    row = admin.execute("SELECT full_name FROM agentmode.user_profiles WHERE user_id = %s", (user.id,)).fetchone()
    assert row is not None
    return row[0]


def assert_refused(result: Result) -> None:
    assert (result.status, result.body["error_code"]) == (401, "UNAUTHORIZED")


def test_a_read_authenticated_by_the_session_cookie_is_served(user: User) -> None:
    result = invoke("GET", "/opsboard/users/me", headers=cookie(user.token))

    assert result.status == 200
    assert result.body["id"] == str(user.id)


def test_a_write_by_cookie_from_the_web_app_is_served(admin: psycopg.Connection[Any], user: User) -> None:
    result = rename(user, cookie(user.token, origin=WEB_APP))

    assert result.status == 200
    assert full_name(admin, user) == result.body["full_name"]


@pytest.mark.parametrize("origin", [None, "https://evil.example", "null", "https://app.example.evil.example"])
def test_a_write_by_cookie_from_anywhere_else_is_refused_and_changes_nothing(
    admin: psycopg.Connection[Any], user: User, origin: str | None
) -> None:
    """Among them an origin only CORS's `https://*` wildcard would allow: a cookie write needs an exact origin."""
    before = full_name(admin, user)

    result = rename(user, cookie(user.token, **({"origin": origin} if origin else {})))

    assert_refused(result)
    assert full_name(admin, user) == before


def test_the_authorization_header_wins_over_the_cookie(user: User) -> None:
    result = invoke("GET", "/opsboard/users/me", headers=cookie(user.token, authorization="Bearer not-a-token"))

    assert_refused(result)


def test_a_forged_token_in_the_cookie_is_refused(user: User) -> None:
    forged = jwt.encode({**jwt.decode(user.token, options={"verify_signature": False})}, "another-key-of-at-least-32-bytes!!")

    assert_refused(invoke("GET", "/opsboard/users/me", headers=cookie(forged)))


def test_an_empty_cookie_is_no_token(user: User) -> None:
    assert_refused(invoke("GET", "/opsboard/users/me", headers={"cookie": "session_id="}))
