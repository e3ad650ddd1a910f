"""Supabase Auth hanging under an invite: the mail is sent inside the request's transaction (the invite row first,
committed only once Supabase Auth took the mail), so a hang answers 502 INVITE_NOT_SENT after
SUPABASE_AUTH_TIMEOUT_SECONDS, well inside the function's timeout, and leaves no invite and no quota use behind.

Supabase Auth refusing, failing (5xx), throttling (429) or unreachable: tests/functional/test_opsboard_invites.py.
"""

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.factories import User
from tests.faults.conftest import Configure
from tests.faults.stubs import BlackHole
from tests.faults.support import assert_error, count, lambda_timeout, rate_limit_hits, timed
from tests.lambda_invoke import Result, invoke
from tests.opsboard import personal_org
from tests.supabase_auth_stub import SupabaseAuthStub

SERVICE_KEY = "service-role-key-for-faults"
AUTH_TIMEOUT = 1


@pytest.fixture
def org(admin: psycopg.Connection[Any], user: User) -> uuid.UUID:
    return personal_org(admin, user)


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()


@pytest.fixture
def auth_api() -> Iterator[SupabaseAuthStub]:
    stub = SupabaseAuthStub()
    yield stub
    stub.close()


@pytest.fixture
def warm_container(user: User) -> None:
    """The invite route loaded and the Supabase client's package imported (half a second, once per container), so
    what is timed is the hang, not a cold start."""
    import supabase  # noqa: F401

    assert invoke("GET", "/opsboard/orgs/invites", headers=user.auth).status == 200


def invite(user: User, org: uuid.UUID, email: str) -> Result:
    return invoke("POST", f"/opsboard/orgs/{org}/invite", headers=user.auth, json_body={"email": email})


def new_address() -> str:
    return f"new-{uuid.uuid4().hex[:12]}@example.test"


def test_a_hung_supabase_auth_is_502_after_its_timeout_and_saves_no_invite(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, configure: Configure, black_hole: BlackHole, warm_container: None
) -> None:
    configure(SUPABASE_URL=black_hole.url, SUPABASE_SERVICE_ROLE_KEY=SERVICE_KEY, SUPABASE_AUTH_TIMEOUT_SECONDS=str(AUTH_TIMEOUT))

    result, elapsed = timed(lambda: invite(user, org, new_address()))

    assert assert_error(result, 502, "INVITE_NOT_SENT") == {"service": "supabase_auth", "reason": "unavailable"}
    assert black_hole.accepted == 1, "the request reached Supabase Auth, which never answered"
    assert AUTH_TIMEOUT - 0.1 <= elapsed < AUTH_TIMEOUT + 1.0
    assert elapsed < lambda_timeout("POST", f"/opsboard/orgs/{org}/invite") / 2
    assert count(admin, "SELECT count(*) FROM agentmode.org_invites WHERE org_id = %s", org) == 0
    assert rate_limit_hits(admin, user.id, "org_invite") == 0


def test_a_slow_supabase_auth_within_its_timeout_sends_the_invite(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, configure: Configure, auth_api: SupabaseAuthStub
) -> None:
    """The control: the 502 above is the timeout's, not a limit tighter than the setting."""
    auth_api.delay = AUTH_TIMEOUT / 2
    configure(SUPABASE_URL=auth_api.url, SUPABASE_SERVICE_ROLE_KEY=SERVICE_KEY, SUPABASE_AUTH_TIMEOUT_SECONDS=str(AUTH_TIMEOUT))
    address = new_address()

    result = invite(user, org, address)

    assert result.status == 201, result.body
    assert auth_api.invited == [address]
    assert count(admin, "SELECT count(*) FROM agentmode.org_invites WHERE org_id = %s AND status = 'pending'", org) == 1
