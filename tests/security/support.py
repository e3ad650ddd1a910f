"""What the security tests share: every route of template.yaml with a request that succeeds, and database fingerprints.

A hostile request is always a request that would succeed, with one thing changed (the token, an id, a value), so an
answer other than the expected refusal shows the attack got past that one check.
"""

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

import psycopg
from psycopg import sql

from agentmode.clickhouse import ClickHouse
from local.template_routes import Route, load_routes
from tests.factories import User, create_user
from tests.lambda_invoke import Result, invoke
from tests.opsboard import add_member, email_of, personal_org
from tests.runner_support import asking_session
from tests.stripe_billing_stub import StripeBillingStub
from tests.trace_data import create_project, simple_trace

ROUTES = load_routes()
WEBHOOK = "POST /v4/stripe-webhook"
# Every route but the webhook verifies a Supabase JWT; the webhook checks Stripe's signature.
JWT_ROUTES = [route for route in ROUTES if route.route_key != WEBHOOK]


def new_address() -> str:
    return f"new-{uuid.uuid4().hex[:12]}@example.test"


@dataclass(frozen=True)
class Target:
    """The ids a request may name: one user's session, traced project and trace, and what the /opsboard routes act on."""

    user: User
    session_id: uuid.UUID
    project_id: uuid.UUID  # traced, in an organization where the user is a developer
    trace_id: str
    traces_org_id: uuid.UUID  # that organization, which the user may leave
    org_id: uuid.UUID  # the user's own organization: owner, paying (pro, so no member or project limit)
    subscription_id: str  # its live subscription, set to cancel at period end (at Stripe and in the row)
    owned_project_id: uuid.UUID  # a project of org_id (its "Default Project")
    member_id: uuid.UUID  # a developer of org_id
    invite_email: str  # a pending invite of org_id
    spare_org_id: uuid.UUID  # owned by the user alone, no projects and no subscription: deletable, can check out
    invited_org_id: uuid.UUID  # another user's organization with a pending invite for the user's e-mail

    def missing(self) -> "Target":
        """The same user naming ids that exist nowhere."""
        return replace(self, **_ids_of_nothing())

    def ids(self) -> tuple[object, ...]:
        """Every id the target names (the user's own aside)."""
        return tuple(getattr(self, item.name) for item in fields(self) if item.name != "user")


def _ids_of_nothing() -> dict[str, Any]:
    return {
        "session_id": uuid.uuid4(), "project_id": uuid.uuid4(), "trace_id": uuid.uuid4().hex, "traces_org_id": uuid.uuid4(),
        "org_id": uuid.uuid4(), "subscription_id": f"sub_{uuid.uuid4().hex}", "owned_project_id": uuid.uuid4(),
        "member_id": uuid.uuid4(), "invite_email": new_address(), "spare_org_id": uuid.uuid4(),
        "invited_org_id": uuid.uuid4(),
    }  # fmt: skip


def scalar(admin: psycopg.Connection[Any], query: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> Any:
    """The first column of the one row `query` returns."""
    row = admin.execute(query.encode(), params).fetchone()
    assert row is not None, query
    return row[0]


def _invite(admin: psycopg.Connection[Any], org_id: uuid.UUID, email: str, inviter: uuid.UUID) -> None:
    admin.execute(
        "INSERT INTO agentmode.org_invites (org_id, email, role, inviter_id, delivery, expires_at)"
        " VALUES (%s, %s, 'developer', %s, 'in_app', now() + interval '7 days')",
        (org_id, email, inviter),
    )


def make_target(admin: psycopg.Connection[Any], ch: ClickHouse, stripe: StripeBillingStub, user: User | None = None) -> Target:
    """A user (brand memory, 100 credits) with a session, a traced project, and the organizations, member, invites and
    subscription of Target, each of them a row the user's requests may act on."""
    user = user or create_user(admin)
    project_id = create_project(admin, user.id)
    org_id = personal_org(admin, user)
    member = create_user(admin, brand_memory=False)
    add_member(admin, org_id, member, "developer")
    invite_email = new_address()
    _invite(admin, org_id, invite_email, user.id)
    spare_org_id = scalar(admin, "INSERT INTO agentmode.orgs (name) VALUES ('spare') RETURNING id")
    add_member(admin, spare_org_id, user, "owner")
    host = create_user(admin, brand_memory=False)
    invited_org_id = personal_org(admin, host)
    _invite(admin, invited_org_id, email_of(user), host.id)
    # Subscribed after the member joined, so no seat change is pending for Stripe.
    customer = stripe.add_customer()
    subscription_id = stripe.add_subscription(customer=customer, cancel_at_period_end=True, quantity=2)
    admin.execute(
        "UPDATE agentmode.orgs SET prem_status = 'pro', subscription_id = %s, subscription_status = 'active',"
        " subscription_cancel_at_period_end = true, stripe_customer_id = %s WHERE id = %s",
        (subscription_id, customer, org_id),
    )
    return Target(
        user=user,
        session_id=asking_session(admin, user.id),
        project_id=project_id,
        trace_id=simple_trace(ch, project_id),
        traces_org_id=scalar(admin, "SELECT org_id FROM agentmode.projects WHERE id = %s", (project_id,)),
        org_id=org_id,
        subscription_id=subscription_id,
        owned_project_id=scalar(admin, "SELECT id FROM agentmode.projects WHERE org_id = %s", (org_id,)),
        member_id=member.id,
        invite_email=invite_email,
        spare_org_id=spare_org_id,
        invited_org_id=invited_org_id,
    )


def placeholder_target() -> Target:
    """Ids of nobody, for building a route's request shape."""
    return Target(User(uuid.uuid4(), ""), **_ids_of_nothing())


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def send(self, headers: dict[str, str] | None = None) -> Result:
        return invoke(self.method, self.path, headers={**self.headers, **(headers or {})}, json_body=self.body, query=self.query)


def _start(t: Target) -> Call:
    return Call("POST", "/agent/start", body={"goal": "Generate video ads for my SaaS product", "constraints": {"max_videos": 1}})


def _event(t: Target) -> Call:
    body = {"session_id": str(t.session_id), "action_type": "reasoning_update", "reasoning": "Comparing hooks."}
    return Call("POST", "/agent/event", body=body)


def _write_memory(t: Target) -> Call:
    return Call(
        "POST", "/agent/write-memory", body={"content": f"Prefers short hooks ({uuid.uuid4()}).", "memory_type": "preference"}
    )


RECIPES: dict[str, Callable[[Target], Call]] = {
    "POST /agent/start": _start,
    "POST /agent/event": _event,
    "GET /agent/status": lambda t: Call("GET", "/agent/status", {"session_id": str(t.session_id)}),
    "GET /agent/events": lambda t: Call("GET", "/agent/events", {"session_id": str(t.session_id), "after_seq": "0"}),
    "POST /agent/write-memory": _write_memory,
    "POST /agent/respond": lambda t: Call(
        "POST", "/agent/respond", body={"session_id": str(t.session_id), "question_seq": 1, "value": "a"}
    ),
    "POST /agent/cancel": lambda t: Call("POST", "/agent/cancel", body={"session_id": str(t.session_id)}),
    "GET /agent/read-memory": lambda t: Call("GET", "/agent/read-memory", {"query": "brand voice", "limit": "5"}),
    WEBHOOK: lambda t: Call("POST", "/v4/stripe-webhook", body={"id": "evt_unsigned", "type": "invoice.paid"}),
    "GET /v4/traces": lambda t: Call("GET", "/v4/traces", {"project_id": str(t.project_id)}),
    "GET /v4/traces/{trace_id}": lambda t: Call("GET", f"/v4/traces/{t.trace_id}", {"project_id": str(t.project_id)}),
    "GET /v4/meterics/project": lambda t: Call("GET", "/v4/meterics/project", {"project_id": str(t.project_id)}),
    "GET /v4/metrics/project": lambda t: Call("GET", "/v4/metrics/project", {"project_id": str(t.project_id)}),
}

PROFILE = {"full_name": "Security Suite", "billing_address": {"city": "Lisbon"}}
PROJECT_CHANGE = {"name": "Renamed project", "environment": "staging"}


def _org(method: str, action: str = "", body: Any = None, org: str = "org_id") -> Callable[[Target], Call]:
    """A request to /opsboard/orgs/{org_id}[/action] naming the target's organization `org` (a Target field)."""
    return lambda t: Call(method, f"/opsboard/orgs/{getattr(t, org)}{action}", body=body)


def _member(action: str, **fields: str) -> Callable[[Target], Call]:
    return lambda t: Call("POST", f"/opsboard/orgs/{t.org_id}/{action}", body={"user_id": str(t.member_id), **fields})


def _owned_project(method: str, action: str = "", body: Any = None) -> Callable[[Target], Call]:
    return lambda t: Call(method, f"/opsboard/projects/{t.owned_project_id}{action}", body=body)


RECIPES.update({
    "GET /opsboard/users/me": lambda t: Call("GET", "/opsboard/users/me"),
    "PUT /opsboard/users/me": lambda t: Call("PUT", "/opsboard/users/me", body=PROFILE),
    "POST /opsboard/users/update": lambda t: Call("POST", "/opsboard/users/update", body=PROFILE),
    "PUT /opsboard/users/me/survey-complete": lambda t: Call("PUT", "/opsboard/users/me/survey-complete"),
    "POST /opsboard/users/complete_survey": lambda t: Call("POST", "/opsboard/users/complete_survey"),
    "GET /opsboard/projects": lambda t: Call("GET", "/opsboard/projects"),
    "POST /opsboard/projects": lambda t: Call("POST", "/opsboard/projects", body={"name": "Launch", "org_id": str(t.org_id)}),
    "GET /opsboard/projects/{project_id}": lambda t: Call("GET", f"/opsboard/projects/{t.project_id}"),
    "PUT /opsboard/projects/{project_id}": _owned_project("PUT", body=PROJECT_CHANGE),
    "POST /opsboard/projects/{project_id}/update": _owned_project("POST", "/update", PROJECT_CHANGE),
    "DELETE /opsboard/projects/{project_id}": _owned_project("DELETE"),
    "POST /opsboard/projects/{project_id}/delete": _owned_project("POST", "/delete"),
    "POST /opsboard/projects/{project_id}/regenerate-key": _owned_project("POST", "/regenerate-key"),
    "GET /opsboard/orgs": lambda t: Call("GET", "/opsboard/orgs"),
    "POST /opsboard/orgs": lambda t: Call("POST", "/opsboard/orgs", body={"name": "Security suite org"}),
    "POST /opsboard/orgs/create": lambda t: Call("POST", "/opsboard/orgs/create", body={"name": "Security suite org"}),
    "GET /opsboard/orgs/invites": lambda t: Call("GET", "/opsboard/orgs/invites"),
    "GET /opsboard/orgs/{org_id}": _org("GET"),
    "PUT /opsboard/orgs/{org_id}": _org("PUT", body={"name": "Renamed org"}),
    "POST /opsboard/orgs/{org_id}/update": _org("POST", "/update", {"name": "Renamed org"}),
    "DELETE /opsboard/orgs/{org_id}": _org("DELETE", org="spare_org_id"),
    "POST /opsboard/orgs/{org_id}/invite": lambda t: Call(
        "POST", f"/opsboard/orgs/{t.org_id}/invite", body={"email": new_address(), "role": "developer"}
    ),
    "GET /opsboard/orgs/{org_id}/invites": _org("GET", "/invites"),
    "DELETE /opsboard/orgs/{org_id}/invites/{email}": lambda t: Call(
        "DELETE", f"/opsboard/orgs/{t.org_id}/invites/{t.invite_email}"
    ),
    "POST /opsboard/orgs/{org_id}/accept-invite": _org("POST", "/accept-invite", org="invited_org_id"),
    "POST /opsboard/orgs/{org_id}/accept": _org("POST", "/accept", org="invited_org_id"),
    "POST /opsboard/orgs/{org_id}/decline-invite": _org("POST", "/decline-invite", org="invited_org_id"),
    "POST /opsboard/orgs/{org_id}/leave": _org("POST", "/leave", org="traces_org_id"),
    "POST /opsboard/orgs/{org_id}/remove-member": _member("remove-member"),
    "POST /opsboard/orgs/{org_id}/members/remove": _member("members/remove"),
    "POST /opsboard/orgs/{org_id}/change-role": _member("change-role", role="admin"),
    "POST /opsboard/orgs/{org_id}/members/update": _member("members/update", role="admin"),
    "POST /opsboard/orgs/{org_id}/create-checkout-session": _org(
        "POST", "/create-checkout-session", {"quantity": 1}, org="spare_org_id"
    ),
    "POST /opsboard/orgs/{org_id}/validate-discount-code": _org("POST", "/validate-discount-code", {"discount_code": "SUITE10"}),
    "POST /opsboard/orgs/{org_id}/cancel-subscription": lambda t: Call(
        "POST", f"/opsboard/orgs/{t.org_id}/cancel-subscription", body={"subscription_id": t.subscription_id}
    ),
    "POST /opsboard/orgs/{org_id}/reactivate-subscription": lambda t: Call(
        "POST", f"/opsboard/orgs/{t.org_id}/reactivate-subscription", body={"subscription_id": t.subscription_id}
    ),
    "POST /opsboard/orgs/{org_id}/create-free-subscription": _org("POST", "/create-free-subscription", {}, org="spare_org_id"),
    "POST /opsboard/orgs/{org_id}/update-subscription": _org("POST", "/update-subscription", {}),
    "POST /opsboard/orgs/{org_id}/customer-portal": _org("POST", "/customer-portal"),
    "GET /opsboard/orgs/{org_id}/subscription-detail": _org("GET", "/subscription-detail"),
    "GET /opsboard/orgs/{org_id}/stripe-pricing": _org("GET", "/stripe-pricing"),
    "GET /opsboard/orgs/{org_id}/billing/dashboard": _org("GET", "/billing/dashboard"),
    "GET /opsboard/orgs/{org_id}/preview-member-cost": _org("GET", "/preview-member-cost"),
})  # fmt: skip
# Routes whose success uses up what their recipe names (the row is deleted, the invite answered or revoked, the member
# or membership gone, the subscription no longer set to cancel): the same request cannot succeed twice on one target.
CONSUMING = frozenset({
    "DELETE /opsboard/projects/{project_id}", "POST /opsboard/projects/{project_id}/delete", "DELETE /opsboard/orgs/{org_id}",
    "DELETE /opsboard/orgs/{org_id}/invites/{email}", "POST /opsboard/orgs/{org_id}/accept-invite",
    "POST /opsboard/orgs/{org_id}/accept", "POST /opsboard/orgs/{org_id}/decline-invite", "POST /opsboard/orgs/{org_id}/leave",
    "POST /opsboard/orgs/{org_id}/remove-member", "POST /opsboard/orgs/{org_id}/members/remove",
    "POST /opsboard/orgs/{org_id}/reactivate-subscription",
    "POST /agent/respond", "POST /agent/cancel",
})  # fmt: skip


def valid_call(route: Route | str, target: Target) -> Call:
    """A request to `route` that succeeds for `target.user` when sent with that user's token."""
    return RECIPES[route if isinstance(route, str) else route.route_key](target)


def route_id(route: Route) -> str:
    return route.route_key


# ---- Postgres: a fingerprint of every table, to show a refused request changed nothing ----

_fingerprint_sql: list[sql.Composed] = []


# Seed 001 §8 counts every authenticated request, refused ones included (tests/functional/test_api_calls.py).
COUNTED_ON_EVERY_REQUEST = ("api_call_counts",)


def _fingerprint_query(admin: psycopg.Connection[Any]) -> sql.Composed:
    """One statement over every base table of the agentmode schema and auth.users (tables added later included),
    except the API-call counter, which an authenticated request changes by design."""
    if not _fingerprint_sql:
        tables = admin.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
            " AND (table_schema = 'agentmode' OR (table_schema, table_name) = ('auth', 'users'))"
            " AND table_name <> ALL(%s) ORDER BY 1, 2",
            (list(COUNTED_ON_EVERY_REQUEST),),
        ).fetchall()
        _fingerprint_sql.append(
            sql.SQL(" UNION ALL ").join(
                sql.SQL("SELECT {}, count(*), coalesce(max(xmin::text::bigint), 0) FROM {}").format(
                    sql.Literal(f"{schema}.{name}"), sql.Identifier(schema, name)
                )
                for schema, name in tables
            )
        )
    return _fingerprint_sql[0]


def fingerprint(admin: psycopg.Connection[Any], *, tables: tuple[str, ...] | None = None) -> dict[str, tuple[int, int]]:
    """Per table, its row count and newest row version (xmin): an insert or update brings a newer xmin, a delete
    a lower count, so equal fingerprints mean the table was not written."""
    rows = admin.execute(_fingerprint_query(admin)).fetchall()
    return {name: (count, newest) for name, count, newest in rows if tables is None or name.split(".")[1] in tables}


def changed_tables(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    return sorted(table for table in before.keys() | after.keys() if before.get(table) != after.get(table))


def tenant_rows(admin: psycopg.Connection[Any], user: User) -> dict[str, str]:
    """A digest per table of every row that is the user's: their own, and their organizations' (members, projects,
    invites), plus invites to their e-mail. Any change to another tenant's data shows here."""
    orgs = "SELECT org_id FROM agentmode.user_orgs WHERE user_id = %(user)s"
    where = {
        "agent_sessions": "user_id = %(user)s", "agent_execution_logs": "user_id = %(user)s",
        "agent_questions": "user_id = %(user)s",
        "agent_memory": "user_id = %(user)s", "credit_balances": "user_id = %(user)s", "rate_limit_hits": "user_id = %(user)s",
        "user_profiles": "user_id = %(user)s", "orgs": f"id IN ({orgs})", "user_orgs": f"org_id IN ({orgs})",
        "projects": f"org_id IN ({orgs})",
        "org_invites": f"org_id IN ({orgs}) OR email = (SELECT lower(email) FROM auth.users WHERE id = %(user)s)",
    }  # fmt: skip
    return {
        table: scalar(
            admin,
            f"SELECT coalesce(string_agg(md5(t::text), ',' ORDER BY md5(t::text)), '') FROM agentmode.{table} t WHERE {rows}",
            {"user": user.id},
        )
        for table, rows in where.items()
    }


BILLING_TABLES = ("orgs", "stripe_events", "stripe_parked_events", "subscription_status_history", "billing_disputes")


# ---- ClickHouse: its tables and rows ----


def clickhouse_state(ch: ClickHouse) -> dict[str, int]:
    """Each table of the traces database with its row count: a DROP, DELETE or INSERT shows here."""
    tables = ch.query("SELECT name FROM system.tables WHERE database = currentDatabase() AND NOT is_temporary ORDER BY name", {})
    return {
        row["name"]: int(ch.query(f"SELECT count() AS n FROM `{row['name']}`", {})[0]["n"])  # names from system.tables
        for row in tables
        if not str(row["name"]).startswith(".inner")
    }


# ---- JWTs: raw building blocks for tokens no library would sign ----


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value).encode())


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
