"""A signed-in user naming another user's ids: every read is 404 exactly as for an id that does not exist, every
write is 404 and changes nothing, and the routes without ids (start, memory) never reach the other user's rows."""

import dataclasses
import json
import uuid
from typing import Any

import psycopg
import pytest

from agentmode.clickhouse import ClickHouse
from local.template_routes import Route
from tests.factories import User
from tests.lambda_invoke import invoke
from tests.security.support import (
    JWT_ROUTES,
    Call,
    Target,
    changed_tables,
    fingerprint,
    make_target,
    placeholder_target,
    route_id,
    tenant_rows,
    valid_call,
)
from tests.stripe_billing_stub import StripeBillingStub


def _names(route: Route, *fields: str) -> bool:
    """Whether the route's request names one of the target's ids (all of them when no field is given)."""
    probe = placeholder_target()
    text = json.dumps(dataclasses.asdict(valid_call(route, probe)))
    values = [getattr(probe, name) for name in fields] if fields else probe.ids()
    return any(str(value) in text for value in values)


ID_ROUTES = [route for route in JWT_ROUTES if _names(route)]
# What a request names inside the caller's own organization, and the answer when that is not there.
NOT_IN_MY_ORG = {
    "member_id": (404, "MEMBER_NOT_FOUND"),
    "invite_email": (404, "INVITE_NOT_FOUND"),
    "subscription_id": (409, "SUBSCRIPTION_MISMATCH"),
}
INNER_IDS = tuple(NOT_IN_MY_ORG)
INNER_ID_ROUTES = [route for route in JWT_ROUTES if _names(route, *INNER_IDS)]
BODY_ROUTES = [route for route in JWT_ROUTES if isinstance(valid_call(route, placeholder_target()).body, dict)]
BODYLESS_WRITE_ROUTES = [
    route for route in JWT_ROUTES if route.method != "GET" and valid_call(route, placeholder_target()).body is None
]


@pytest.fixture
def me(admin: psycopg.Connection[Any], clickhouse: ClickHouse, stripe_billing: StripeBillingStub, user: User) -> Target:
    return make_target(admin, clickhouse, stripe_billing, user)


@pytest.fixture(scope="module")
def them(admin: psycopg.Connection[Any], clickhouse: ClickHouse, stripe_billing: StripeBillingStub) -> Target:
    """The other tenant: a session with a logged event, a project with a trace, a memory, and organizations with a
    member, invites and a subscription. Tests here only add rows of their own (a session, a memory), which no other
    test reads, so one serves the module."""
    target = make_target(admin, clickhouse, stripe_billing)
    assert valid_call("POST /agent/event", target).send(target.user.auth).status == 200
    return target


def normalised(body: dict[str, Any], *ids: object) -> dict[str, Any]:
    """The error body without what differs per request (request id, time) and with the ids it was asked about masked."""
    text = json.dumps({key: value for key, value in body.items() if key not in ("request_id", "timestamp")}, sort_keys=True)
    for value in ids:
        text = text.replace(str(value), "<id>")
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def with_body(call: Call, **fields: Any) -> Call:
    return dataclasses.replace(call, body={**call.body, **fields})


def test_the_routes_that_take_an_id_are_all_here() -> None:
    assert {route.route_key for route in ID_ROUTES} >= {
        "POST /agent/event", "GET /agent/status", "GET /agent/events", "GET /v4/traces", "GET /v4/traces/{trace_id}",
        "GET /v4/meterics/project", "GET /v4/metrics/project",
        "POST /opsboard/projects", "GET /opsboard/projects/{project_id}", "PUT /opsboard/projects/{project_id}",
        "POST /opsboard/projects/{project_id}/update", "DELETE /opsboard/projects/{project_id}",
        "POST /opsboard/projects/{project_id}/delete", "POST /opsboard/projects/{project_id}/regenerate-key",
        "GET /opsboard/orgs/{org_id}", "PUT /opsboard/orgs/{org_id}", "POST /opsboard/orgs/{org_id}/update",
        "DELETE /opsboard/orgs/{org_id}", "POST /opsboard/orgs/{org_id}/invite", "GET /opsboard/orgs/{org_id}/invites",
        "DELETE /opsboard/orgs/{org_id}/invites/{email}", "POST /opsboard/orgs/{org_id}/accept-invite",
        "POST /opsboard/orgs/{org_id}/accept", "POST /opsboard/orgs/{org_id}/decline-invite",
        "POST /opsboard/orgs/{org_id}/leave", "POST /opsboard/orgs/{org_id}/remove-member",
        "POST /opsboard/orgs/{org_id}/members/remove", "POST /opsboard/orgs/{org_id}/change-role",
        "POST /opsboard/orgs/{org_id}/members/update", "POST /opsboard/orgs/{org_id}/create-checkout-session",
        "POST /opsboard/orgs/{org_id}/cancel-subscription", "POST /opsboard/orgs/{org_id}/reactivate-subscription",
        "POST /opsboard/orgs/{org_id}/validate-discount-code",
    }  # fmt: skip
    assert {route.route_key for route in INNER_ID_ROUTES} == {
        "DELETE /opsboard/orgs/{org_id}/invites/{email}", "POST /opsboard/orgs/{org_id}/remove-member",
        "POST /opsboard/orgs/{org_id}/members/remove", "POST /opsboard/orgs/{org_id}/change-role",
        "POST /opsboard/orgs/{org_id}/members/update", "POST /opsboard/orgs/{org_id}/cancel-subscription",
        "POST /opsboard/orgs/{org_id}/reactivate-subscription",
    }  # fmt: skip


@pytest.mark.parametrize("route", ID_ROUTES, ids=route_id)
def test_another_users_ids_answer_404_exactly_like_missing_ids(
    admin: psycopg.Connection[Any], me: Target, them: Target, route: Route
) -> None:
    theirs = dataclasses.replace(them, user=me.user)
    missing = me.missing()
    before = fingerprint(admin)

    result = valid_call(route, theirs).send(me.user.auth)

    assert changed_tables(before, fingerprint(admin)) == []
    assert result.status == 404, result.body
    unknown = valid_call(route, missing).send(me.user.auth)
    assert normalised(result.body, *them.ids()) == normalised(unknown.body, *missing.ids())


@pytest.mark.parametrize("route", INNER_ID_ROUTES, ids=route_id)
def test_another_tenants_member_invite_or_subscription_named_in_my_organization_is_answered_like_a_missing_one(
    admin: psycopg.Connection[Any], me: Target, them: Target, route: Route
) -> None:
    """My own organization, their member's user id, their invite's address or their subscription id: the same answer
    as for one that exists nowhere, and nothing is written."""
    inner = {name: getattr(them, name) for name in INNER_IDS}
    missing = dataclasses.replace(me, **{name: getattr(me.missing(), name) for name in INNER_IDS})
    [named] = [name for name in INNER_IDS if _names(route, name)]
    before, theirs = fingerprint(admin), tenant_rows(admin, them.user)

    result = valid_call(route, dataclasses.replace(me, **inner)).send(me.user.auth)

    assert changed_tables(before, fingerprint(admin)) == []
    assert tenant_rows(admin, them.user) == theirs
    assert (result.status, result.body["error_code"]) == NOT_IN_MY_ORG[named]
    unknown = valid_call(route, missing).send(me.user.auth)
    assert normalised(result.body, *inner.values()) == normalised(unknown.body, *(getattr(missing, n) for n in INNER_IDS))


@pytest.mark.parametrize(
    "event",
    [
        {"action_type": "session_completed", "status": "success", "result": {"videos": []}},
        {"action_type": "error", "error_message": "stop", "recovery_strategy": "abort"},
        {"action_type": "user_input_required", "question": "Which?", "options": [{"value": "a", "label": "A"}]},
        {"action_type": "step_started", "step_name": "Analyze brand memory"},
    ],
    ids=lambda event: event["action_type"],
)
def test_an_event_for_another_users_session_is_404_and_leaves_it_as_it_was(
    admin: psycopg.Connection[Any], me: Target, them: Target, event: dict[str, Any]
) -> None:
    before = fingerprint(admin)

    result = invoke("POST", "/agent/event", headers=me.user.auth, json_body={"session_id": str(them.session_id), **event})

    assert (result.status, result.body["error_code"]) == (404, "SESSION_NOT_FOUND")
    assert changed_tables(before, fingerprint(admin)) == []
    status = invoke("GET", "/agent/status", headers=them.user.auth, query={"session_id": str(them.session_id)}).body
    assert (status["status"], status["last_seq"]) == ("awaiting_input", 2)


def test_another_projects_trace_through_my_project_is_404_like_a_missing_trace(me: Target, them: Target) -> None:
    through_mine = invoke("GET", f"/v4/traces/{them.trace_id}", headers=me.user.auth, query={"project_id": str(me.project_id)})
    missing = uuid.uuid4().hex
    unknown = invoke("GET", f"/v4/traces/{missing}", headers=me.user.auth, query={"project_id": str(me.project_id)})

    assert through_mine.status == 404
    assert normalised(through_mine.body, them.trace_id) == normalised(unknown.body, missing)


def test_another_users_cursor_opens_neither_their_project_nor_mine(clickhouse: ClickHouse, me: Target, them: Target) -> None:
    from tests.trace_data import simple_trace

    simple_trace(clickhouse, them.project_id)
    cursor = invoke("GET", "/v4/traces", headers=them.user.auth, query={"project_id": str(them.project_id), "limit": "1"})
    token = cursor.body["next_cursor"]
    assert token

    on_theirs = invoke("GET", "/v4/traces", headers=me.user.auth, query={"project_id": str(them.project_id), "cursor": token})
    on_mine = invoke("GET", "/v4/traces", headers=me.user.auth, query={"project_id": str(me.project_id), "cursor": token})

    assert (on_theirs.status, on_theirs.body["error_code"]) == (404, "NOT_FOUND")
    assert (on_mine.status, on_mine.body["error_code"]) == (400, "VALIDATION_ERROR")


def session_rows(admin: psycopg.Connection[Any], user: User) -> list[tuple[Any, ...]]:
    return admin.execute(
        "SELECT s.id, s.status, s.idempotency_key, s.request_hash, s.updated_at, b.balance FROM agentmode.agent_sessions s"
        " JOIN agentmode.credit_balances b USING (user_id) WHERE s.user_id = %s ORDER BY s.id",
        (user.id,),
    ).fetchall()


def test_another_users_idempotency_key_starts_my_own_session(admin: psycopg.Connection[Any], me: Target, them: Target) -> None:
    key = {"idempotency-key": f"their-key-{uuid.uuid4()}"}
    theirs = valid_call("POST /agent/start", them).send({**them.user.auth, **key})
    assert theirs.status == 201
    their_rows = session_rows(admin, them.user)

    mine = valid_call("POST /agent/start", me).send({**me.user.auth, **key})

    assert mine.status == 201, "a replay of someone else's start"
    assert mine.body["session_id"] != theirs.body["session_id"]
    assert session_rows(admin, them.user) == their_rows


def memory_rows(admin: psycopg.Connection[Any], user: User) -> list[tuple[Any, ...]]:
    return admin.execute(
        "SELECT id, memory_type, content, metadata, embedding::text, expires_at, updated_at FROM agentmode.agent_memory"
        " WHERE user_id = %s ORDER BY id",
        (user.id,),
    ).fetchall()


def test_writing_another_users_memory_text_adds_mine_and_leaves_theirs(
    admin: psycopg.Connection[Any], me: Target, them: Target
) -> None:
    memory = {"content": f"Their secret launch plan {uuid.uuid4()}", "memory_type": "insight", "metadata": {"owner": "them"}}
    assert invoke("POST", "/agent/write-memory", headers=them.user.auth, json_body=memory).status == 201
    their_rows = memory_rows(admin, them.user)

    mine = invoke("POST", "/agent/write-memory", headers=me.user.auth, json_body={**memory, "metadata": {"owner": "me"}})

    assert (mine.status, mine.body["deduplicated"], mine.body["memory"]["user_id"]) == (201, False, str(me.user.id))
    assert memory_rows(admin, them.user) == their_rows


def test_searching_with_another_users_memory_text_finds_only_mine(
    admin: psycopg.Connection[Any], me: Target, them: Target
) -> None:
    secret = f"Their secret launch plan {uuid.uuid4()}"
    for user, content in ((them.user, secret), (me.user, "Our own launch plan.")):
        assert (
            invoke(
                "POST", "/agent/write-memory", headers=user.auth, json_body={"content": content, "memory_type": "insight"}
            ).status
            == 201
        )

    found = invoke("GET", "/agent/read-memory", headers=me.user.auth, query={"query": secret, "limit": "50"})

    assert found.status == 200
    assert found.body["results"], "the caller's own memory is a candidate"
    assert {row["id"] for row in found.body["results"]} <= {str(row[0]) for row in memory_rows(admin, me.user)}
    assert secret not in json.dumps(found.body)


@pytest.mark.parametrize("route", BODY_ROUTES, ids=route_id)
def test_a_user_id_in_a_body_is_refused_and_writes_nothing(
    admin: psycopg.Connection[Any], me: Target, them: Target, route: Route
) -> None:
    """An unknown field to every body, except where the body names a user already (the member to remove or re-role):
    there the other user is simply not a member of the caller's organization."""
    before = fingerprint(admin)

    result = with_body(valid_call(route, me), user_id=str(them.user.id)).send(me.user.auth)

    expected = (404, "MEMBER_NOT_FOUND") if _names(route, "member_id") else (400, "VALIDATION_ERROR")
    assert (result.status, result.body["error_code"]) == expected
    assert changed_tables(before, fingerprint(admin)) == []


@pytest.mark.parametrize("route", BODYLESS_WRITE_ROUTES, ids=route_id)
def test_a_user_id_sent_to_a_route_without_a_body_acts_on_the_caller_only(
    admin: psycopg.Connection[Any], me: Target, them: Target, route: Route
) -> None:
    """These routes read no body: the caller's own answer, and the named user's rows as they were."""
    theirs = tenant_rows(admin, them.user)

    result = dataclasses.replace(valid_call(route, me), body={"user_id": str(them.user.id)}).send(me.user.auth)

    assert result.status == 200, result.body
    assert tenant_rows(admin, them.user) == theirs
