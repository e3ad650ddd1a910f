"""Validly signed tokens with odd claims are refused with 401 on the routes, never a 500, and change nothing."""

import json
import time
import uuid
from typing import Any

import jwt
import psycopg
import pytest

from local.devconfig import DEV_JWT_ISSUER
from tests.factories import TEST_JWT_SECRET, User
from tests.lambda_invoke import invoke


def signed(user: User, **overrides: Any) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": str(user.id), "aud": "authenticated", "role": "authenticated", "iss": DEV_JWT_ISSUER}
    token = jwt.encode({**claims, "iat": now, "exp": now + 600, **overrides}, TEST_JWT_SECRET, algorithm="HS256")
    return {"authorization": f"Bearer {token}"}


ODD_CLAIMS: dict[str, Any] = {
    "urn-uuid-subject": lambda user: {"sub": f"urn:uuid:{user.id}"},
    "braced-subject": lambda user: {"sub": f"{{{user.id}}}"},
    "nul-in-email": lambda user: {"email": "a\x00b@example.com"},
    "lone-surrogate": lambda user: {"email": "\ud800@example.com"},
    "nul-in-metadata": lambda user: {"user_metadata": {"name": "\x00"}},
}


@pytest.mark.parametrize("odd", ODD_CLAIMS, ids=list(ODD_CLAIMS))
def test_odd_claims_are_401_and_change_nothing(admin: psycopg.Connection[Any], user: User, odd: str) -> None:
    headers = signed(user, **ODD_CLAIMS[odd](user))
    start = invoke("POST", "/agent/start", headers=headers, json_body={"goal": "Generate video ads"})
    status = invoke("GET", "/agent/status", headers=headers, query={"session_id": str(uuid.uuid4())})
    assert [(r.status, r.body["error_code"]) for r in (start, status)] == [(401, "UNAUTHORIZED")] * 2
    assert admin.execute("SELECT count(*) FROM agentmode.agent_sessions WHERE user_id = %s", (user.id,)).fetchone()[0] == 0


def test_an_uppercase_subject_acts_as_the_same_user(user: User) -> None:
    headers = signed(user, sub=str(user.id).upper())
    result = invoke("POST", "/agent/start", headers=headers, json_body={"goal": "Generate video ads"})
    assert result.status == 201, json.dumps(result.body)
