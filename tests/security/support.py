"""What the security tests share: every route of template.yaml with a request that succeeds, and database fingerprints.

A hostile request is always a request that would succeed, with one thing changed (the token, an id, a value), so an
answer other than the expected refusal shows the attack got past that one check.
"""

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
from psycopg import sql

from agentmode.clickhouse import ClickHouse
from local.template_routes import Route, load_routes
from tests.factories import User, create_session, create_user
from tests.lambda_invoke import Result, invoke
from tests.trace_data import create_project, simple_trace

ROUTES = load_routes()
WEBHOOK = "POST /v4/stripe-webhook"
# Every route but the webhook verifies a Supabase JWT; the webhook checks Stripe's signature.
JWT_ROUTES = [route for route in ROUTES if route.route_key != WEBHOOK]


@dataclass(frozen=True)
class Target:
    """The ids a request may name: one user's session, project and trace."""

    user: User
    session_id: uuid.UUID
    project_id: uuid.UUID
    trace_id: str

    def missing(self) -> "Target":
        """The same user naming ids that exist nowhere."""
        return replace(self, session_id=uuid.uuid4(), project_id=uuid.uuid4(), trace_id=uuid.uuid4().hex)


def make_target(admin: psycopg.Connection[Any], ch: ClickHouse, user: User | None = None) -> Target:
    """A user (brand memory, 100 credits) with a session, and a project of their organization with one trace."""
    user = user or create_user(admin)
    project_id = create_project(admin, user.id)
    return Target(user, create_session(admin, user.id), project_id, simple_trace(ch, project_id))


def placeholder_target() -> Target:
    """Ids of nobody, for building a route's request shape."""
    return Target(User(uuid.uuid4(), ""), uuid.uuid4(), uuid.uuid4(), uuid.uuid4().hex)


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
    "GET /agent/read-memory": lambda t: Call("GET", "/agent/read-memory", {"query": "brand voice", "limit": "5"}),
    WEBHOOK: lambda t: Call("POST", "/v4/stripe-webhook", body={"id": "evt_unsigned", "type": "invoice.paid"}),
    "GET /v4/traces": lambda t: Call("GET", "/v4/traces", {"project_id": str(t.project_id)}),
    "GET /v4/traces/{trace_id}": lambda t: Call("GET", f"/v4/traces/{t.trace_id}", {"project_id": str(t.project_id)}),
    "GET /v4/meterics/project": lambda t: Call("GET", "/v4/meterics/project", {"project_id": str(t.project_id)}),
    "GET /v4/metrics/project": lambda t: Call("GET", "/v4/metrics/project", {"project_id": str(t.project_id)}),
}


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


def scalar(admin: psycopg.Connection[Any], query: str, params: tuple[Any, ...] = ()) -> Any:
    """The first column of the one row `query` returns."""
    row = admin.execute(query.encode(), params).fetchone()
    assert row is not None, query
    return row[0]


def changed_tables(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    return sorted(table for table in before.keys() | after.keys() if before.get(table) != after.get(table))


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
