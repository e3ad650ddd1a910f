"""/opsboard/users: the caller's own profile (seed 000's User), e-mail from Supabase Auth, updates under RLS."""

import uuid
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.factories import User
from tests.lambda_invoke import Result, invoke

UPDATE_ROUTES = [("PUT", "/opsboard/users/me"), ("POST", "/opsboard/users/update")]
SURVEY_ROUTES = [("PUT", "/opsboard/users/me/survey-complete"), ("POST", "/opsboard/users/complete_survey")]


def me(user: User) -> Result:
    return invoke("GET", "/opsboard/users/me", headers=user.auth)


def update(user: User, body: Any, route: tuple[str, str] = UPDATE_ROUTES[0]) -> Result:
    method, path = route
    return invoke(method, path, headers=user.auth, json_body=body)


def profile_row(admin: psycopg.Connection[Any], user_id: uuid.UUID) -> dict[str, Any] | None:
    with admin.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT full_name, avatar_url, billing_address, payment_method, survey_is_complete"
            " FROM agentmode.user_profiles WHERE user_id = %s",
            (user_id,),
        ).fetchone()


def survey_done(admin: psycopg.Connection[Any], user_id: uuid.UUID) -> bool:
    row = admin.execute("SELECT survey_is_complete FROM agentmode.user_profiles WHERE user_id = %s", (user_id,)).fetchone()
    return bool(row and row[0])


def set_profile(admin: psycopg.Connection[Any], user_id: uuid.UUID, **columns: Any) -> None:
    assignments = ", ".join(f"{name} = %s" for name in columns)
    admin.execute(f"UPDATE agentmode.user_profiles SET {assignments} WHERE user_id = %s", [*columns.values(), user_id])


def field_errors(result: Result) -> list[str]:
    return [problem["field"] for problem in result.body["details"]["errors"]]


def test_signup_gives_a_profile_a_personal_org_it_owns_and_a_default_project(admin: psycopg.Connection[Any], user: User) -> None:
    orgs = admin.execute(
        "SELECT o.id, o.name, uo.role FROM agentmode.user_orgs uo JOIN agentmode.orgs o ON o.id = uo.org_id"
        " WHERE uo.user_id = %s",
        (user.id,),
    ).fetchall()
    [(org_id, org_name, role)] = orgs
    projects = admin.execute("SELECT name, environment FROM agentmode.projects WHERE org_id = %s", (org_id,)).fetchall()

    assert profile_row(admin, user.id) == {
        "full_name": str(user.id),  # the e-mail's local part until the user names themselves
        "avatar_url": None,
        "billing_address": None,
        "payment_method": None,
        "survey_is_complete": False,
    }
    assert (org_name, role) == (f"{user.id}'s Org", "owner")
    assert projects == [("Default Project", "development")]


def test_weakness_an_invited_address_that_never_accepts_gets_no_org(admin: psycopg.Connection[Any]) -> None:
    """Supabase Auth creates an unconfirmed user for every invite it mails: nothing of ours is made for it until the
    address is confirmed (the real server's sign-in-with-OTP invites made full accounts for people who never came)."""
    invited = uuid.uuid4()
    admin.execute("INSERT INTO auth.users (id, email) VALUES (%s, %s)", (invited, f"{invited}@test.local"))
    assert admin.execute("SELECT count(*) FROM agentmode.user_orgs WHERE user_id = %s", (invited,)).fetchone() == (0,)
    assert profile_row(admin, invited) is None

    admin.execute("UPDATE auth.users SET email_confirmed_at = now() WHERE id = %s", (invited,))
    assert admin.execute("SELECT count(*) FROM agentmode.user_orgs WHERE user_id = %s", (invited,)).fetchone() == (1,)
    assert profile_row(admin, invited) is not None


def test_me_answers_the_profile_with_the_auth_email(user: User) -> None:
    result = me(user)

    assert result.status == 200, result.body
    assert result.body == {
        "id": str(user.id),
        "full_name": str(user.id),
        "avatar_url": None,
        "billing_address": None,
        "payment_method": None,
        "email": f"{user.id}@test.local",
        "email_verified": True,
        "survey_is_complete": False,
    }


def test_an_email_auth_has_not_confirmed_is_reported_unverified(admin: psycopg.Connection[Any], user: User) -> None:
    admin.execute("UPDATE auth.users SET email_confirmed_at = NULL WHERE id = %s", (user.id,))

    assert me(user).body["email_verified"] is False


@pytest.mark.parametrize("route", UPDATE_ROUTES, ids=["put_me", "post_update"])
def test_update_applies_only_the_fields_given(admin: psycopg.Connection[Any], user: User, route: tuple[str, str]) -> None:
    set_profile(admin, user.id, avatar_url="https://cdn.example.com/a.png", survey_is_complete=True)

    result = update(user, {"full_name": "Ada Lovelace", "billing_address": {"city": "London"}}, route)

    assert result.status == 200, result.body
    assert (result.body["full_name"], result.body["billing_address"]) == ("Ada Lovelace", {"city": "London"})
    assert profile_row(admin, user.id) == {
        "full_name": "Ada Lovelace",
        "avatar_url": "https://cdn.example.com/a.png",
        "billing_address": {"city": "London"},
        "payment_method": None,
        "survey_is_complete": True,
    }


def test_null_fields_are_left_as_they_are(admin: psycopg.Connection[Any], user: User) -> None:
    set_profile(admin, user.id, full_name="Kept")

    result = update(user, {"full_name": None, "payment_method": {"brand": "visa", "last4": "4242"}})

    assert result.status == 200, result.body
    assert profile_row(admin, user.id) == {
        "full_name": "Kept",
        "avatar_url": None,
        "billing_address": None,
        "payment_method": {"brand": "visa", "last4": "4242"},
        "survey_is_complete": False,
    }


def test_the_dashboards_survey_update_is_applied(admin: psycopg.Connection[Any], user: User) -> None:
    result = update(user, {"survey_is_complete": True}, ("POST", "/opsboard/users/update"))

    assert (result.status, result.body["survey_is_complete"]) == (200, True)
    assert survey_done(admin, user.id)


def test_weakness_invite_hijack_the_email_cannot_be_changed_through_the_profile(
    admin: psycopg.Connection[Any], user: User
) -> None:
    before = profile_row(admin, user.id)

    result = update(user, {"full_name": "Mallory", "email": "victim@example.com"}, ("POST", "/opsboard/users/update"))

    assert (result.status, result.body["error_code"]) == (400, "VALIDATION_ERROR")
    assert field_errors(result) == ["body.email"]
    assert "victim@example.com" not in str(result.body)
    assert profile_row(admin, user.id) == before
    assert admin.execute("SELECT email FROM auth.users WHERE id = %s", (user.id,)).fetchone() == (f"{user.id}@test.local",)
    assert me(user).body["email"] == f"{user.id}@test.local"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"full_name": "x" * 201}, "body.full_name"),
        ({"full_name": "nul\x00byte"}, "body.full_name"),
        ({"avatar_url": "http://cdn.example.com/a.png"}, "body.avatar_url"),
        ({"avatar_url": "javascript:alert(1)"}, "body.avatar_url"),
        ({"avatar_url": "https://"}, "body.avatar_url"),
        ({"avatar_url": "https://cdn.example.com/a b.png"}, "body.avatar_url"),
        ({"avatar_url": "https://cdn.example.com/a\u2028.png"}, "body.avatar_url"),
        ({"avatar_url": "https://cdn.example.com:99999/a.png"}, "body.avatar_url"),
        ({"avatar_url": "https://cdn.example.com/" + "a" * 2030}, "body.avatar_url"),
        ({"billing_address": {"line1": "x" * 4096}}, "body.billing_address"),
        ({"billing_address": ["not", "an", "object"]}, "body.billing_address"),
        ({"payment_method": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}}, "body.payment_method"),
        ({"survey_is_complete": "yes"}, "body.survey_is_complete"),
        ({"id": str(uuid.uuid4())}, "body.id"),
    ],
    ids=[
        "long_name", "nul_in_name", "http_avatar", "javascript_avatar", "avatar_without_host", "space_in_avatar",
        "line_separator_in_avatar", "avatar_port_out_of_range", "long_avatar", "billing_over_4kb", "billing_not_object",
        "payment_too_deep", "survey_not_boolean", "unknown_field",
    ],
)  # fmt: skip
def test_a_field_out_of_bounds_is_refused_by_name_and_nothing_is_stored(
    admin: psycopg.Connection[Any], user: User, body: dict[str, Any], field: str
) -> None:
    before = profile_row(admin, user.id)

    result = update(user, body)

    assert (result.status, result.body["error_code"]) == (400, "VALIDATION_ERROR")
    assert field in field_errors(result)
    assert profile_row(admin, user.id) == before


def test_values_at_the_bounds_are_stored(admin: psycopg.Connection[Any], user: User) -> None:
    avatar = "https://cdn.example.com/" + "a" * (2048 - len("https://cdn.example.com/"))
    billing = {"line1": "x" * (4096 - len('{"line1":""}'))}
    payment = {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}

    result = update(user, {"full_name": "n" * 200, "avatar_url": avatar, "billing_address": billing, "payment_method": payment})

    assert result.status == 200, result.body
    assert profile_row(admin, user.id) == {
        "full_name": "n" * 200,
        "avatar_url": avatar,
        "billing_address": billing,
        "payment_method": payment,
        "survey_is_complete": False,
    }


def test_an_update_changes_only_the_callers_profile(admin: psycopg.Connection[Any], user: User, other_user: User) -> None:
    others_before = profile_row(admin, other_user.id)

    assert update(user, {"full_name": "Only me"}).status == 200

    assert profile_row(admin, other_user.id) == others_before


@pytest.mark.parametrize("route", SURVEY_ROUTES, ids=["put_survey_complete", "post_complete_survey"])
def test_completing_the_survey_marks_the_profile(admin: psycopg.Connection[Any], user: User, route: tuple[str, str]) -> None:
    method, path = route

    result = invoke(method, path, headers=user.auth)

    assert result.status == 200, result.body
    assert result.body == {"success": True, "message": "User survey marked complete."}
    assert survey_done(admin, user.id)


def test_a_user_without_a_profile_gets_404(admin: psycopg.Connection[Any], user: User) -> None:
    admin.execute("DELETE FROM agentmode.user_profiles WHERE user_id = %s", (user.id,))

    results = [me(user), update(user, {"full_name": "x"}), invoke("PUT", SURVEY_ROUTES[0][1], headers=user.auth)]

    assert [(r.status, r.body["error_code"]) for r in results] == [(404, "NOT_FOUND")] * 3
    assert profile_row(admin, user.id) is None
