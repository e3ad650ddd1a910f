"""/opsboard/orgs/{id} members: roles, removal, leaving, and the last-owner rule under concurrency."""

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.factories import User, create_user
from tests.opsboard import add_member, call, role_of


def member(admin: psycopg.Connection[Any], org: uuid.UUID, role: str) -> User:
    someone = create_user(admin)
    add_member(admin, org, someone, role)
    return someone


def change_role(actor: User, org: uuid.UUID, target: User, role: str, path: str = "change-role") -> Any:
    return call(actor, "POST", f"/opsboard/orgs/{org}/{path}", {"user_id": str(target.id), "role": role})


def remove(actor: User, org: uuid.UUID, target: User, path: str = "remove-member") -> Any:
    return call(actor, "POST", f"/opsboard/orgs/{org}/{path}", {"user_id": str(target.id)})


@pytest.mark.parametrize("path", ["change-role", "members/update"])
def test_an_owner_promotes_a_developer_to_admin(path: str, admin: psycopg.Connection[Any], user: User, org: uuid.UUID) -> None:
    dev = member(admin, org, "developer")
    assert change_role(user, org, dev, "admin", path).status == 200
    assert role_of(admin, org, dev) == "admin"


def test_an_admin_manages_developers_and_business_users(admin: psycopg.Connection[Any], org: uuid.UUID) -> None:
    manager, dev = member(admin, org, "admin"), member(admin, org, "developer")
    assert change_role(manager, org, dev, "business_user").status == 200
    assert role_of(admin, org, dev) == "business_user"


@pytest.mark.parametrize(
    ("target_role", "new_role"), [("developer", "admin"), ("developer", "owner"), ("admin", "developer"), ("owner", "developer")]
)
def test_weakness_an_admin_cannot_grant_change_or_demote_owner_and_admin_roles(
    target_role: str, new_role: str, admin: psycopg.Connection[Any], org: uuid.UUID
) -> None:
    manager, target = member(admin, org, "admin"), member(admin, org, target_role)
    result = change_role(manager, org, target, new_role)
    assert (result.status, result.body["error_code"]) == (403, "ROLE_NOT_ALLOWED")
    assert role_of(admin, org, target) == target_role


@pytest.mark.parametrize("target_role", ["admin", "owner"])
def test_weakness_an_admin_cannot_remove_admins_or_owners(
    target_role: str, admin: psycopg.Connection[Any], org: uuid.UUID
) -> None:
    manager, target = member(admin, org, "admin"), member(admin, org, target_role)
    assert remove(manager, org, target).body["error_code"] == "ROLE_NOT_ALLOWED"
    assert role_of(admin, org, target) == target_role


@pytest.mark.parametrize("role", ["developer", "business_user"])
def test_developers_and_business_users_manage_nobody(role: str, admin: psycopg.Connection[Any], org: uuid.UUID) -> None:
    actor, target = member(admin, org, role), member(admin, org, "business_user")
    assert change_role(actor, org, target, "developer").body["error_code"] == "ROLE_NOT_ALLOWED"
    assert remove(actor, org, target).body["error_code"] == "ROLE_NOT_ALLOWED"


@pytest.mark.parametrize("role", ["superuser", "OWNER", "", "member"])
def test_weakness_an_invalid_role_is_400_not_500(role: str, admin: psycopg.Connection[Any], user: User, org: uuid.UUID) -> None:
    dev = member(admin, org, "developer")
    result = change_role(user, org, dev, role)
    assert (result.status, result.body["error_code"]) == (400, "VALIDATION_ERROR")


def test_changing_the_role_of_a_non_member_is_404(admin: psycopg.Connection[Any], user: User, org: uuid.UUID) -> None:
    result = change_role(user, org, create_user(admin), "developer")
    assert (result.status, result.body["error_code"]) == (404, "MEMBER_NOT_FOUND")


@pytest.mark.parametrize("path", ["remove-member", "members/remove"])
def test_an_owner_removes_a_member(path: str, admin: psycopg.Connection[Any], user: User, org: uuid.UUID) -> None:
    dev = member(admin, org, "developer")
    assert remove(user, org, dev, path).status == 200
    assert role_of(admin, org, dev) is None


def test_the_last_owner_cannot_demote_themselves(admin: psycopg.Connection[Any], user: User, org: uuid.UUID) -> None:
    member(admin, org, "admin")
    result = change_role(user, org, user, "admin")
    assert (result.status, result.body["error_code"]) == (409, "LAST_OWNER")
    assert role_of(admin, org, user) == "owner"


def test_the_last_owner_cannot_leave(admin: psycopg.Connection[Any], user: User, org: uuid.UUID) -> None:
    member(admin, org, "developer")
    assert call(user, "POST", f"/opsboard/orgs/{org}/leave").body["error_code"] == "LAST_OWNER"


def test_an_owner_may_step_down_once_another_owner_exists(admin: psycopg.Connection[Any], user: User, org: uuid.UUID) -> None:
    member(admin, org, "owner")
    assert change_role(user, org, user, "developer").status == 200


def test_a_member_leaves(admin: psycopg.Connection[Any], org: uuid.UUID) -> None:
    dev = member(admin, org, "developer")
    assert call(dev, "POST", f"/opsboard/orgs/{org}/leave").status == 200
    assert role_of(admin, org, dev) is None


def test_a_sole_member_leaving_leaves_an_empty_org_not_an_error(admin: psycopg.Connection[Any], user: User) -> None:
    """An org with nobody left has nobody to lock out; deleting a user from auth.users takes this path too."""
    org = uuid.UUID(call(user, "POST", "/opsboard/orgs", {"name": "Solo"}).body["id"])
    assert call(user, "POST", f"/opsboard/orgs/{org}/leave").status == 200


def test_the_last_owner_rule_holds_for_direct_sql(admin: psycopg.Connection[Any], user: User, org: uuid.UUID) -> None:
    member(admin, org, "developer")
    with pytest.raises(psycopg.errors.RaiseException, match="LAST_OWNER"):
        admin.execute("UPDATE agentmode.user_orgs SET role = 'admin' WHERE org_id = %s AND user_id = %s", (org, user.id))


def _as(conn: psycopg.Connection[Any], user: User) -> None:
    conn.execute(
        "SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)",
        (json.dumps({"sub": str(user.id), "role": "authenticated"}),),
    )


def race(database_url: str, first: tuple[User, str, tuple[Any, ...]], second: tuple[User, str, tuple[Any, ...]]) -> list[str]:
    """Runs `first` in an open transaction, starts `second` while it is open, commits `first`, and returns each
    one's outcome ('ok' or the refusal's code). The second must wait for the first: if it did not, it would decide
    on what it saw before the commit, as the real server's count-then-update does."""
    outcomes: dict[int, str] = {}
    started = threading.Event()

    def run(index: int, actor: User, sql: str, args: tuple[Any, ...], before_commit: Callable[[], None]) -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            try:
                with conn.transaction():
                    _as(conn, actor)
                    conn.execute(sql, args)
                    before_commit()
                outcomes[index] = "ok"
            except psycopg.errors.RaiseException as exc:
                outcomes[index] = exc.diag.message_primary or ""

    def hold_until_second_waits() -> None:
        threading.Thread(target=run, args=(1, *second, lambda: None), daemon=True).start()
        started.set()
        threading.Event().wait(0.5)

    first_thread = threading.Thread(target=run, args=(0, *first, hold_until_second_waits))
    first_thread.start()
    first_thread.join(10)
    started.wait(10)
    for _ in range(100):
        if 1 in outcomes:
            break
        threading.Event().wait(0.05)
    return [outcomes[0], outcomes[1]]


def owners(admin: psycopg.Connection[Any], org: uuid.UUID) -> int:
    return int(
        admin.execute("SELECT count(*) FROM agentmode.user_orgs WHERE org_id = %s AND role = 'owner'", (org,)).fetchone()[0]
    )


def test_weakness_two_concurrent_demotions_never_leave_zero_owners(
    database_url: str, admin: psycopg.Connection[Any], user: User, org: uuid.UUID
) -> None:
    """Each of two owners steps down at once; each alone would leave the other as owner."""
    other = member(admin, org, "owner")
    step_down = "SELECT agentmode.change_member_role(%s, %s, 'admin')"
    outcomes = race(database_url, (user, step_down, (org, user.id)), (other, step_down, (org, other.id)))
    assert outcomes == ["ok", "LAST_OWNER"]
    assert owners(admin, org) == 1


def test_two_owners_leaving_at_once_never_leave_zero_owners(
    database_url: str, admin: psycopg.Connection[Any], user: User, org: uuid.UUID
) -> None:
    other = member(admin, org, "owner")
    member(admin, org, "developer")
    leave = "SELECT agentmode.leave_org(%s)"
    assert race(database_url, (user, leave, (org,)), (other, leave, (org,))) == ["ok", "LAST_OWNER"]
    assert owners(admin, org) == 1
