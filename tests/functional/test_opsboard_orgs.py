"""/opsboard/orgs: listing, reading, creating, renaming and deleting organizations (seed 000)."""

import uuid
from typing import Any

import psycopg
import pytest

from tests.factories import User, create_user
from tests.opsboard import add_member, call, personal_org


@pytest.fixture
def demo_org(admin: psycopg.Connection[Any]) -> Any:
    """Seed 000's Demo Org: every user signed up meanwhile joins it as a business user."""
    org = admin.execute("INSERT INTO agentmode.orgs (name, is_demo) VALUES ('Demo Org', true) RETURNING id").fetchone()[0]
    yield org
    admin.execute("DELETE FROM agentmode.orgs WHERE id = %s", (org,))


def test_a_new_user_owns_a_personal_org_with_a_default_project(admin: psycopg.Connection[Any], user: User) -> None:
    orgs = call(user, "GET", "/opsboard/orgs").body
    assert [(o["current_user_role"], o["prem_status"], o["member_count"], o["current_project_count"]) for o in orgs] == [
        ("owner", "free", 1, 1)
    ]
    names = admin.execute("SELECT name FROM agentmode.projects WHERE org_id = %s", (orgs[0]["id"],)).fetchall()
    assert names == [("Default Project",)]


def test_org_shows_the_free_plans_limits(user: User) -> None:
    org = call(user, "GET", "/opsboard/orgs").body[0]
    assert (org["max_member_count"], org["max_project_count"], org["current_member_count"]) == (3, 3, 1)


@pytest.mark.parametrize("path", ["/opsboard/orgs", "/opsboard/orgs/create"])
def test_creating_an_org_makes_the_caller_its_owner(path: str, admin: psycopg.Connection[Any], user: User) -> None:
    result = call(user, "POST", path, {"name": "  Acme  "})
    assert result.status == 201
    assert (result.body["name"], result.body["current_user_role"]) == ("Acme", "owner")
    row = admin.execute(
        "SELECT role FROM agentmode.user_orgs WHERE org_id = %s AND user_id = %s", (result.body["id"], user.id)
    ).fetchone()
    assert row == ("owner",)


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_an_org_name_must_be_1_to_200_characters(name: str, user: User) -> None:
    result = call(user, "POST", "/opsboard/orgs", {"name": name})
    assert (result.status, result.body["error_code"]) == (400, "VALIDATION_ERROR")


def test_org_detail_lists_members_with_their_auth_emails(admin: psycopg.Connection[Any], user: User) -> None:
    colleague = create_user(admin)
    org = personal_org(admin, user)
    add_member(admin, org, colleague, "developer")
    body = call(user, "GET", f"/opsboard/orgs/{org}").body
    assert [(m["user_id"], m["role"], m["user_email"]) for m in body["users"]] == [
        (str(user.id), "owner", f"{user.id}@test.local"),
        (str(colleague.id), "developer", f"{colleague.id}@test.local"),
    ]


@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/update")])
def test_a_non_member_gets_404_never_403(method: str, suffix: str, admin: psycopg.Connection[Any], user: User) -> None:
    stranger = create_user(admin)
    org = personal_org(admin, user)
    result = call(stranger, method, f"/opsboard/orgs/{org}{suffix}", {"name": "taken over"})
    assert (result.status, result.body["error_code"]) == (404, "NOT_FOUND")


def test_a_missing_org_and_another_users_org_answer_alike(admin: psycopg.Connection[Any], user: User) -> None:
    stranger = create_user(admin)
    theirs = call(user, "GET", f"/opsboard/orgs/{personal_org(admin, stranger)}").body
    missing = call(user, "GET", f"/opsboard/orgs/{uuid.uuid4()}").body
    assert (
        (theirs["error_code"], theirs["error"])
        == (missing["error_code"], missing["error"])
        == ("NOT_FOUND", "Organization not found.")
    )


@pytest.mark.parametrize("org_id", ["not-a-uuid", "1", "00000000-0000-0000-0000-00000000000g"])
def test_a_malformed_org_id_is_400(org_id: str, user: User) -> None:
    assert call(user, "GET", f"/opsboard/orgs/{org_id}").status == 400


@pytest.mark.parametrize("path_suffix", ["", "/update"])
def test_an_admin_renames_the_org(path_suffix: str, admin: psycopg.Connection[Any], user: User) -> None:
    member = create_user(admin)
    org = personal_org(admin, user)
    add_member(admin, org, member, "admin")
    result = call(member, "PUT" if not path_suffix else "POST", f"/opsboard/orgs/{org}{path_suffix}", {"name": "Renamed"})
    assert (result.status, result.body["name"]) == (200, "Renamed")


def test_a_developer_cannot_rename_the_org(admin: psycopg.Connection[Any], user: User) -> None:
    member = create_user(admin)
    org = personal_org(admin, user)
    add_member(admin, org, member, "developer")
    result = call(member, "PUT", f"/opsboard/orgs/{org}", {"name": "Renamed"})
    assert (result.status, result.body["error_code"]) == (403, "ROLE_NOT_ALLOWED")
    assert admin.execute("SELECT name <> 'Renamed' FROM agentmode.orgs WHERE id = %s", (org,)).fetchone() == (True,)


def test_deleting_an_org_with_projects_is_refused(admin: psycopg.Connection[Any], user: User) -> None:
    result = call(user, "DELETE", f"/opsboard/orgs/{personal_org(admin, user)}")
    assert (result.status, result.body["error_code"]) == (409, "ORG_HAS_PROJECTS")


def test_the_owner_deletes_an_org_without_projects(admin: psycopg.Connection[Any], user: User) -> None:
    org = call(user, "POST", "/opsboard/orgs", {"name": "Short-lived"}).body["id"]
    assert call(user, "DELETE", f"/opsboard/orgs/{org}").body["success"] is True
    assert admin.execute("SELECT count(*) FROM agentmode.orgs WHERE id = %s", (org,)).fetchone() == (0,)


def test_an_admin_cannot_delete_the_org(admin: psycopg.Connection[Any], user: User) -> None:
    member = create_user(admin)
    org = call(user, "POST", "/opsboard/orgs", {"name": "Kept"}).body["id"]
    add_member(admin, uuid.UUID(org), member, "admin")
    assert call(member, "DELETE", f"/opsboard/orgs/{org}").body["error_code"] == "ROLE_NOT_ALLOWED"


@pytest.mark.parametrize("status", ["active", "trialing", "past_due", "unpaid"])
def test_weakness_deleting_a_paying_org_never_orphans_its_subscription(
    status: str, admin: psycopg.Connection[Any], user: User
) -> None:
    org = call(user, "POST", "/opsboard/orgs", {"name": "Paying"}).body["id"]
    admin.execute(
        "UPDATE agentmode.orgs SET prem_status = 'pro', subscription_id = %s, subscription_status = %s WHERE id = %s",
        (f"sub_{uuid.uuid4().hex}", status, org),
    )
    result = call(user, "DELETE", f"/opsboard/orgs/{org}")
    assert (result.status, result.body["error_code"]) == (409, "ORG_HAS_SUBSCRIPTION")
    assert admin.execute("SELECT count(*) FROM agentmode.orgs WHERE id = %s", (org,)).fetchone() == (1,)


def test_an_org_whose_subscription_ended_can_be_deleted(admin: psycopg.Connection[Any], user: User) -> None:
    org = call(user, "POST", "/opsboard/orgs", {"name": "Former customer"}).body["id"]
    admin.execute(
        "UPDATE agentmode.orgs SET subscription_id = %s, subscription_status = 'canceled' WHERE id = %s",
        (f"sub_{uuid.uuid4().hex}", org),
    )
    assert call(user, "DELETE", f"/opsboard/orgs/{org}").status == 200


def test_weakness_the_demo_org_is_not_listed_and_its_members_are_never_shown(
    admin: psycopg.Connection[Any], demo_org: uuid.UUID
) -> None:
    first, second = create_user(admin), create_user(admin)
    assert all(o["id"] != str(demo_org) for o in call(first, "GET", "/opsboard/orgs").body)
    detail = call(second, "GET", f"/opsboard/orgs/{demo_org}").body
    assert (detail["current_user_role"], detail["users"], detail["is_demo"]) == ("business_user", [], True)
    assert admin.execute("SELECT count(*) FROM agentmode.user_orgs WHERE org_id = %s", (demo_org,)).fetchone() == (2,)


def test_weakness_a_pro_orgs_period_and_cancel_flag_come_from_the_webhooks_columns(
    admin: psycopg.Connection[Any], user: User
) -> None:
    org = personal_org(admin, user)
    admin.execute(
        "UPDATE agentmode.orgs SET prem_status = 'pro', subscription_id = 'sub_live', subscription_status = 'active',"
        " subscription_end_date = 1893456000, subscription_cancel_at_period_end = true WHERE id = %s",
        (org,),
    )
    body = call(user, "GET", "/opsboard/orgs").body[0]
    assert (body["prem_status"], body["subscription_end_date"], body["subscription_cancel_at_period_end"]) == (
        "pro",
        1893456000,
        True,
    )
    assert (body["max_member_count"], body["paid_member_count"]) == (None, 1)
