"""/opsboard/orgs invites: Supabase Auth's invite mail (loopback stand-in), verified-email matching, expiry, limits."""

import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from local.token import mint_token
from tests.conftest import reset_function_state
from tests.factories import TEST_JWT_SECRET, User, create_user
from tests.lambda_invoke import function_dir
from tests.opsboard import add_member, call, email_of, role_of
from tests.supabase_auth_stub import SupabaseAuthStub

SERVICE_KEY = "service-role-key-for-tests"


@pytest.fixture
def auth_stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[SupabaseAuthStub]:
    stub = SupabaseAuthStub()
    monkeypatch.setenv("SUPABASE_URL", stub.url)
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", SERVICE_KEY)
    monkeypatch.setenv("APP_URL", "https://app.example.test")
    reset_function_state()
    yield stub
    stub.close()
    monkeypatch.undo()
    reset_function_state()


def invite(actor: User, org: uuid.UUID, email: str, role: str = "developer") -> Any:
    return call(actor, "POST", f"/opsboard/orgs/{org}/invite", {"email": email, "role": role})


def invites_of(admin: psycopg.Connection[Any], org: uuid.UUID) -> list[tuple[str, str, str]]:
    rows = admin.execute(
        "SELECT email, status, delivery FROM agentmode.org_invites WHERE org_id = %s ORDER BY created_at", (org,)
    )
    return [tuple(row) for row in rows.fetchall()]


def new_address() -> str:
    return f"new-{uuid.uuid4().hex[:12]}@example.test"


def test_an_unregistered_address_gets_supabase_auths_invite_mail(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, auth_stub: SupabaseAuthStub
) -> None:
    address = new_address()
    result = invite(user, org, address.upper(), "admin")
    assert (result.status, result.body["email"], result.body["role"]) == (201, address, "admin")
    [request] = auth_stub.requests
    assert request["path"] == "/auth/v1/invite"
    assert request["headers"]["apikey"] == SERVICE_KEY
    assert request["headers"]["authorization"] == f"Bearer {SERVICE_KEY}"
    assert request["query"]["redirect_to"] == ["https://app.example.test/auth/callback"]
    assert request["body"]["email"] == address
    assert request["body"]["data"]["invited_to_org"] == str(org)
    assert invites_of(admin, org) == [(address, "pending", "email")]


def test_a_registered_user_is_invited_in_the_app_without_a_mail(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, auth_stub: SupabaseAuthStub
) -> None:
    invitee = create_user(admin)
    assert invite(user, org, email_of(invitee)).status == 201
    assert auth_stub.requests == []
    [seen] = call(invitee, "GET", "/opsboard/orgs/invites").body
    assert (seen["org_id"], seen["role"], seen["invitee_email"], seen["inviter_id"]) == (
        str(org),
        "developer",
        email_of(invitee),
        str(user.id),
    )


def test_an_address_supabase_auth_knows_already_is_invited_in_the_app(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, auth_stub: SupabaseAuthStub
) -> None:
    auth_stub.fail_with = "email_exists"
    address = new_address()
    assert invite(user, org, address).status == 201
    assert invites_of(admin, org) == [(address, "pending", "in_app")]


@pytest.mark.parametrize(
    ("failure", "reason"), [("unexpected_failure", "unavailable"), ("over_email_send_rate_limit", "rate limited")]
)
def test_weakness_a_failed_invite_mail_is_reported_and_saves_nothing(
    failure: str, reason: str, admin: psycopg.Connection[Any], user: User, org: uuid.UUID, auth_stub: SupabaseAuthStub
) -> None:
    auth_stub.fail_with = failure
    result = invite(user, org, new_address())
    assert (result.status, result.body["error_code"], result.body["details"]["reason"]) == (502, "INVITE_NOT_SENT", reason)
    assert "Supabase" not in result.body["error"]
    assert "rate limit exceeded" not in json.dumps(result.body)
    assert invites_of(admin, org) == []


def test_an_unreachable_supabase_auth_is_502_and_saves_nothing(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPABASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", SERVICE_KEY)
    reset_function_state()
    try:
        result = invite(user, org, new_address())
    finally:
        monkeypatch.undo()
        reset_function_state()
    assert (result.status, result.body["details"]) == (502, {"service": "supabase_auth", "reason": "unavailable"})
    assert invites_of(admin, org) == []


def test_weakness_an_admin_cannot_invite_an_owner_or_admin(
    admin: psycopg.Connection[Any], org: uuid.UUID, auth_stub: SupabaseAuthStub
) -> None:
    manager = create_user(admin)
    add_member(admin, org, manager, "admin")
    for role in ("owner", "admin"):
        assert invite(manager, org, new_address(), role).body["error_code"] == "ROLE_NOT_ALLOWED"
    assert auth_stub.requests == []


def test_a_developer_cannot_invite(admin: psycopg.Connection[Any], org: uuid.UUID) -> None:
    dev = create_user(admin)
    add_member(admin, org, dev, "developer")
    assert invite(dev, org, new_address()).body["error_code"] == "ROLE_NOT_ALLOWED"


def test_a_non_member_inviting_gets_404(admin: psycopg.Connection[Any], org: uuid.UUID) -> None:
    assert invite(create_user(admin), org, new_address()).status == 404


@pytest.mark.parametrize("email", ["no-at-sign", "two@@example.test", "spaces in@example.test", "a@b", ""])
def test_a_malformed_address_is_400(email: str, user: User, org: uuid.UUID) -> None:
    assert invite(user, org, email).body["error_code"] == "VALIDATION_ERROR"


def test_inviting_a_member_is_409(admin: psycopg.Connection[Any], user: User, org: uuid.UUID) -> None:
    colleague = create_user(admin)
    add_member(admin, org, colleague, "developer")
    result = invite(user, org, email_of(colleague).upper())
    assert (result.status, result.body["error_code"]) == (409, "ALREADY_MEMBER")


def test_one_pending_invite_per_address(admin: psycopg.Connection[Any], user: User, org: uuid.UUID) -> None:
    invitee = create_user(admin)
    assert invite(user, org, email_of(invitee)).status == 201
    assert invite(user, org, email_of(invitee), "business_user").body["error_code"] == "INVITE_PENDING"


def test_weakness_a_free_org_can_invite_someone(admin: psycopg.Connection[Any], user: User, org: uuid.UUID) -> None:
    assert invite(user, org, email_of(create_user(admin))).status == 201


def test_pending_invites_count_towards_the_free_member_limit(admin: psycopg.Connection[Any], user: User, org: uuid.UUID) -> None:
    for _ in range(2):
        assert invite(user, org, email_of(create_user(admin))).status == 201
    result = invite(user, org, email_of(create_user(admin)))
    assert (result.status, result.body["error_code"]) == (403, "PLAN_LIMIT_REACHED")


def test_weakness_concurrent_invites_at_the_limit_never_exceed_it(
    database_url: str, admin: psycopg.Connection[Any], user: User, org: uuid.UUID
) -> None:
    """Two seats are left (limit 3, the owner holds one); five invites race for them."""
    addresses = [email_of(create_user(admin)) for _ in range(5)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(addresses))

    def send(address: str) -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            barrier.wait()
            try:
                with conn.transaction():
                    conn.execute(
                        "SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)",
                        (json.dumps({"sub": str(user.id), "role": "authenticated"}),),
                    )
                    conn.execute("SELECT * FROM agentmode.create_invite(%s, %s, 'developer', 7)", (org, address))
                outcomes.append("ok")
            except psycopg.errors.RaiseException as exc:
                outcomes.append(exc.diag.message_primary or "")

    threads = [threading.Thread(target=send, args=(a,)) for a in addresses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(outcomes) == ["PLAN_LIMIT_REACHED"] * 3 + ["ok"] * 2
    assert len(invites_of(admin, org)) == 2


@pytest.mark.parametrize("path", ["accept-invite", "accept"])
def test_the_invitee_accepts_and_joins_with_the_invited_role(
    path: str, admin: psycopg.Connection[Any], user: User, org: uuid.UUID
) -> None:
    invitee = create_user(admin)
    invite(user, org, email_of(invitee), "business_user")
    assert call(invitee, "POST", f"/opsboard/orgs/{org}/{path}").status == 200
    assert role_of(admin, org, invitee) == "business_user"
    assert invites_of(admin, org) == [(email_of(invitee), "accepted", "in_app")]
    assert call(invitee, "GET", "/opsboard/orgs/invites").body == []


def test_weakness_an_invite_matches_only_the_verified_auth_email_not_a_token_claim(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID
) -> None:
    invitee = create_user(admin)
    invite(user, org, email_of(invitee))
    intruder = create_user(admin)
    claiming = User(intruder.id, mint_token(intruder.id, TEST_JWT_SECRET, email=email_of(invitee)))
    assert call(claiming, "GET", "/opsboard/orgs/invites").body == []
    result = call(claiming, "POST", f"/opsboard/orgs/{org}/accept-invite")
    assert (result.status, result.body["error_code"]) == (404, "INVITE_NOT_FOUND")
    assert role_of(admin, org, intruder) is None


def test_an_unverified_address_cannot_accept(admin: psycopg.Connection[Any], user: User, org: uuid.UUID) -> None:
    invitee = create_user(admin)
    invite(user, org, email_of(invitee))
    admin.execute("UPDATE auth.users SET email_confirmed_at = NULL WHERE id = %s", (invitee.id,))
    assert call(invitee, "POST", f"/opsboard/orgs/{org}/accept-invite").body["error_code"] == "INVITE_NOT_FOUND"


def test_weakness_an_expired_invite_cannot_be_accepted(admin: psycopg.Connection[Any], user: User, org: uuid.UUID) -> None:
    invitee = create_user(admin)
    invite(user, org, email_of(invitee))
    admin.execute("UPDATE agentmode.org_invites SET expires_at = now() - interval '1 second' WHERE org_id = %s", (org,))
    result = call(invitee, "POST", f"/opsboard/orgs/{org}/accept-invite")
    assert (result.status, result.body["error_code"]) == (410, "INVITE_EXPIRED")
    assert invites_of(admin, org) == [(email_of(invitee), "expired", "in_app")]
    assert role_of(admin, org, invitee) is None


def test_invites_expire_after_the_setting(admin: psycopg.Connection[Any], user: User, org: uuid.UUID) -> None:
    invite(user, org, email_of(create_user(admin)))
    days = admin.execute(
        "SELECT round(extract(epoch FROM expires_at - created_at) / 86400) FROM agentmode.org_invites WHERE org_id = %s", (org,)
    ).fetchone()[0]
    assert days == 7


def test_an_expired_invite_can_be_sent_again(admin: psycopg.Connection[Any], user: User, org: uuid.UUID) -> None:
    invitee = create_user(admin)
    invite(user, org, email_of(invitee))
    admin.execute("UPDATE agentmode.org_invites SET expires_at = now() - interval '1 second' WHERE org_id = %s", (org,))
    assert invite(user, org, email_of(invitee)).status == 201


def test_weakness_accepting_rechecks_the_member_limit(admin: psycopg.Connection[Any], user: User, org: uuid.UUID) -> None:
    """Invited while pro (no limit), accepted after a downgrade to free (3 members)."""
    admin.execute("UPDATE agentmode.orgs SET prem_status = 'pro' WHERE id = %s", (org,))
    invitees = [create_user(admin) for _ in range(3)]
    for invitee in invitees:
        invite(user, org, email_of(invitee))
    admin.execute("UPDATE agentmode.orgs SET prem_status = 'free' WHERE id = %s", (org,))
    answers = [call(invitee, "POST", f"/opsboard/orgs/{org}/accept-invite") for invitee in invitees]
    assert [a.status for a in answers] == [200, 200, 403]
    assert answers[2].body["error_code"] == "PLAN_LIMIT_REACHED"


def test_the_invitee_declines(admin: psycopg.Connection[Any], user: User, org: uuid.UUID) -> None:
    invitee = create_user(admin)
    invite(user, org, email_of(invitee))
    assert call(invitee, "POST", f"/opsboard/orgs/{org}/decline-invite").status == 200
    assert invites_of(admin, org) == [(email_of(invitee), "declined", "in_app")]
    assert role_of(admin, org, invitee) is None


def test_admins_list_and_revoke_pending_invites(admin: psycopg.Connection[Any], user: User, org: uuid.UUID) -> None:
    invitee = create_user(admin)
    invite(user, org, email_of(invitee))
    assert [i["email"] for i in call(user, "GET", f"/opsboard/orgs/{org}/invites").body] == [email_of(invitee)]
    assert call(user, "DELETE", f"/opsboard/orgs/{org}/invites/{email_of(invitee).upper()}").status == 200
    assert call(invitee, "GET", "/opsboard/orgs/invites").body == []
    assert call(invitee, "POST", f"/opsboard/orgs/{org}/accept-invite").body["error_code"] == "INVITE_NOT_FOUND"


def test_an_admin_cannot_revoke_an_owners_invite(admin: psycopg.Connection[Any], user: User, org: uuid.UUID) -> None:
    manager, invitee = create_user(admin), create_user(admin)
    add_member(admin, org, manager, "admin")
    invite(user, org, email_of(invitee), "owner")
    assert call(manager, "DELETE", f"/opsboard/orgs/{org}/invites/{email_of(invitee)}").body["error_code"] == "ROLE_NOT_ALLOWED"


def test_developers_cannot_list_an_orgs_invites(admin: psycopg.Connection[Any], org: uuid.UUID) -> None:
    dev = create_user(admin)
    add_member(admin, org, dev, "developer")
    assert call(dev, "GET", f"/opsboard/orgs/{org}/invites").body["error_code"] == "ROLE_NOT_ALLOWED"


def test_the_orgs_function_loads_supabase_only_to_send_an_invite() -> None:
    """Cold start: the package's import (about half a second) is paid on the invite path only."""
    code = "import sys, app; print(sorted(m for m in ('supabase', 'supabase_auth', 'httpx', 'stripe') if m in sys.modules))"
    path = [str(function_dir("opsboard_orgs")), "layers/common"]
    out = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONPATH": ":".join(path)}
    )
    assert out.stdout.strip() == "[]"
