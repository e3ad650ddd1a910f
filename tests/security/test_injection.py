"""SQL and ClickHouse injection strings in every string parameter of every route (body, query, header, path).

A free-text parameter takes them as plain text: the request succeeds and the text is stored (or searched for) exactly
as sent, or it is refused as 400. A typed parameter (id, enum, number, time) refuses them as 400. Never a 5xx; no table
dropped; nobody else's rows touched.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from agentmode.clickhouse import ClickHouse
from tests import stripe_stub
from tests.factories import create_session, create_user
from tests.lambda_invoke import Result, invoke
from tests.security.conftest import WEBHOOK_SECRET
from tests.security.support import (
    JWT_ROUTES,
    Call,
    Target,
    changed_tables,
    clickhouse_state,
    fingerprint,
    make_target,
    placeholder_target,
    scalar,
    tenant_rows,
    valid_call,
)
from tests.stripe_billing_stub import StripeBillingStub

PAYLOADS = {
    "quote_or_true": "' OR '1'='1",
    "quote_comment": "admin'--",
    "drop_table": "'; DROP TABLE agentmode.agent_sessions; --",
    "drop_clickhouse_table": "x'); DROP TABLE otel_traces; --",
    "stacked_sleep": "1; SELECT pg_sleep(3); --",
    "union_select": "' UNION SELECT user_id::text, balance::text FROM agentmode.credit_balances --",
    "block_comment": "/**/OR/**/1=1",
    "double_quote": '" OR ""="',
    "clickhouse_placeholder": "{project_id:UUID}",
    "clickhouse_string_placeholder": "{span_name:String}",
    "driver_placeholders": "%s %(user_id)s $1 ?",
    "backslash": "\\",
    "backslash_quote": "\\' OR 1=1 --",
    "escaped_null": "\\N",
    "nul_byte": "a\x00b",
    "like_wildcards": "%_%",
    "unicode": "ünïcødé ✓ \U0001d518 \u202e",  # with a character outside the BMP and a right-to-left override
    "control_characters": "line\r\nX-Injected: 1\n\t",
}
# A typed parameter refuses anything that does not parse as its type; these cover each way a parser could slip.
TYPED_PAYLOADS = ("quote_or_true", "drop_table", "clickhouse_placeholder", "backslash", "nul_byte", "unicode")

VALIDATION = (400, "VALIDATION_ERROR")
# A path segment that is no address: no pending invite has it, or (a `/` in it) no route matches the path.
NOT_AN_INVITE = ((404, "INVITE_NOT_FOUND"), (404, "NOT_FOUND"))


@dataclass(frozen=True)
class Slot:
    """One string parameter: where it goes, what it answers to injection, and where a success keeps the value."""

    route_key: str
    where: str  # body | body_key | query | header | path
    name: str  # a dotted path into the body (list indexes as numbers), or the parameter's name
    typed: bool = False
    event: dict[str, Any] | None = None  # POST /agent/event: the fields of the event kind this parameter belongs to
    accepts: tuple[tuple[int, str], ...] = (VALIDATION,)
    kept_in: Callable[[psycopg.Connection[Any], Result], list[str]] | None = None  # the strings a 2xx stored
    normalise: Callable[[str], str] = field(default=lambda text: text)

    @property
    def id(self) -> str:
        kind = f"[{self.event['action_type']}]" if self.event else ""
        return f"{self.route_key}-{self.where}:{self.name}{kind}"


def strings_in(value: Any) -> list[str]:
    """Every key and string value in a JSON document."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in [key, *strings_in(item)]]
    if isinstance(value, list):
        return [text for item in value for text in strings_in(item)]
    return []


def kept_by_start(admin: psycopg.Connection[Any], result: Result) -> list[str]:
    row = admin.execute(
        "SELECT session_data FROM agentmode.agent_sessions WHERE id = %s", (result.body["session_id"],)
    ).fetchone()
    return strings_in(row[0]) if row else []


def kept_by_event(admin: psycopg.Connection[Any], result: Result) -> list[str]:
    row = admin.execute(
        "SELECT event_payload, input_data, step_name, tool_name, reasoning, error_message FROM agentmode.agent_execution_logs"
        " WHERE id = %s",
        (result.body["log_id"],),
    ).fetchone()
    return strings_in(list(row)) if row else []


def kept_by_memory(admin: psycopg.Connection[Any], result: Result) -> list[str]:
    row = admin.execute(
        "SELECT content, metadata FROM agentmode.agent_memory WHERE id = %s", (result.body["memory"]["id"],)
    ).fetchone()
    return strings_in(list(row)) if row else []


def kept_by_profile(admin: psycopg.Connection[Any], result: Result) -> list[str]:
    row = admin.execute(
        "SELECT full_name, billing_address FROM agentmode.user_profiles WHERE user_id = %s", (result.body["id"],)
    ).fetchone()
    return strings_in(list(row)) if row else []


def kept_by_project(admin: psycopg.Connection[Any], result: Result) -> list[str]:
    return [scalar(admin, "SELECT name FROM agentmode.projects WHERE id = %s", (result.body["id"],))]


def kept_by_org(admin: psycopg.Connection[Any], result: Result) -> list[str]:
    return [scalar(admin, "SELECT name FROM agentmode.orgs WHERE id = %s", (result.body["id"],))]


def text(route_key: str, where: str, name: str, kept_in: Any = None, **kw: Any) -> Slot:
    return Slot(route_key, where, name, accepts=((200, ""), (201, ""), VALIDATION), kept_in=kept_in, **kw)


def typed(route_key: str, where: str, name: str, **kw: Any) -> Slot:
    return Slot(route_key, where, name, typed=True, **kw)


def event_text(name: str, event: dict[str, Any]) -> Slot:
    return text("POST /agent/event", "body", name, kept_by_event, event=event)


REASONING = {"action_type": "reasoning_update", "reasoning": "Comparing hooks."}
TOOL_CALLED = {"action_type": "tool_called", "tool_name": "search", "input_data": {"q": "hooks"}}
ERROR = {"action_type": "error", "error_message": "Timed out.", "recovery_strategy": "retry"}
PROGRESS = {"action_type": "step_progress", "step_name": "Analyze brand memory", "progress_percentage": 50, "message": "Half."}
QUESTION = {"action_type": "user_input_required", "question": "Which?", "options": [{"value": "a", "label": "A"}]}
TOOL_RESULT = {"action_type": "tool_result", "tool_name": "search", "status": "success"}

SLOTS = [
    text("POST /agent/start", "body", "goal", kept_by_start, normalise=str.strip),
    text("POST /agent/start", "body", "reference_video_url"),  # a URL: stored normalised, so not compared
    typed("POST /agent/start", "body", "constraints.aspect_ratio"),
    text("POST /agent/start", "header", "idempotency-key"),  # header bytes are latin-1 to the app: not compared
    typed("POST /agent/event", "body", "session_id", event=REASONING),
    typed("POST /agent/event", "body", "action_type", event=REASONING),
    typed("POST /agent/event", "body", "step_name", event=PROGRESS),
    event_text("step_name", REASONING),
    event_text("reasoning", REASONING),
    event_text("tool_name", TOOL_CALLED),
    event_text("input_data.q", TOOL_CALLED),
    Slot(
        "POST /agent/event", "body_key", "input_data", event=TOOL_CALLED, accepts=((200, ""), VALIDATION), kept_in=kept_by_event
    ),
    event_text("error_message", ERROR),
    event_text("message", PROGRESS),
    event_text("question", QUESTION),
    event_text("options.0.value", QUESTION),
    event_text("options.0.label", QUESTION),
    typed("POST /agent/event", "body", "status", event=TOOL_RESULT),
    typed("POST /agent/event", "body", "recovery_strategy", event=ERROR),
    typed("GET /agent/status", "query", "session_id"),
    typed("GET /agent/events", "query", "session_id"),
    typed("GET /agent/events", "query", "after_seq"),
    typed("GET /agent/events", "query", "limit"),
    text("POST /agent/write-memory", "body", "content", kept_by_memory),
    typed("POST /agent/write-memory", "body", "memory_type"),
    text("POST /agent/write-memory", "body", "metadata.note", kept_by_memory),
    Slot("POST /agent/write-memory", "body_key", "metadata", accepts=((201, ""), VALIDATION), kept_in=kept_by_memory),
    typed("POST /agent/write-memory", "body", "expires_at"),
    typed("POST /agent/write-memory", "query", "include_embedding"),
    text("GET /agent/read-memory", "query", "query"),
    typed("GET /agent/read-memory", "query", "memory_type"),
    typed("GET /agent/read-memory", "query", "limit"),
    typed("GET /agent/read-memory", "query", "min_similarity"),
    *(typed("GET /v4/traces", "query", name) for name in ("project_id", "start_time", "end_time", "limit", "offset")),
    *(typed("GET /v4/traces", "query", name) for name in ("order_by", "sort_order", "cursor")),
    text("GET /v4/traces", "query", "span_name"),
    text("GET /v4/traces", "query", "query"),
    typed("GET /v4/traces/{trace_id}", "path", "trace_id", accepts=(VALIDATION, (404, "NOT_FOUND"))),
    typed("GET /v4/traces/{trace_id}", "query", "project_id"),
    *(
        typed(route, "query", name)
        for route in ("GET /v4/meterics/project", "GET /v4/metrics/project")
        for name in ("project_id", "start_time", "end_time")
    ),
    text("PUT /opsboard/users/me", "body", "full_name", kept_by_profile),
    text("PUT /opsboard/users/me", "body", "billing_address.city", kept_by_profile),
    typed("PUT /opsboard/users/me", "body", "avatar_url"),
    text("POST /opsboard/projects", "body", "name", kept_by_project, normalise=str.strip),
    typed("POST /opsboard/projects", "body", "org_id"),
    typed("POST /opsboard/projects", "body", "environment"),
    typed("GET /opsboard/projects/{project_id}", "path", "project_id"),
    text("PUT /opsboard/projects/{project_id}", "body", "name", kept_by_project, normalise=str.strip),
    text("POST /opsboard/orgs", "body", "name", kept_by_org, normalise=str.strip),
    typed("GET /opsboard/orgs/{org_id}", "path", "org_id"),
    text("PUT /opsboard/orgs/{org_id}", "body", "name", kept_by_org, normalise=str.strip),
    typed("POST /opsboard/orgs/{org_id}/invite", "body", "email"),
    typed("POST /opsboard/orgs/{org_id}/invite", "body", "role"),
    # An address no invite has: LIKE wildcards or quotes must not make it revoke another one.
    Slot("DELETE /opsboard/orgs/{org_id}/invites/{email}", "path", "email", accepts=(*NOT_AN_INVITE, VALIDATION)),
    typed("POST /opsboard/orgs/{org_id}/change-role", "body", "user_id"),
    typed("POST /opsboard/orgs/{org_id}/change-role", "body", "role"),
    typed("POST /opsboard/orgs/{org_id}/remove-member", "body", "user_id"),
    typed("POST /opsboard/orgs/{org_id}/create-checkout-session", "body", "price_id"),
    typed("POST /opsboard/orgs/{org_id}/create-checkout-session", "body", "discount_code"),
    typed("POST /opsboard/orgs/{org_id}/validate-discount-code", "body", "discount_code"),
    typed("POST /opsboard/orgs/{org_id}/cancel-subscription", "body", "subscription_id"),
    # Sent on to Stripe inside an idempotency key: a value that could split Stripe's request headers is refused.
    text("POST /opsboard/orgs/{org_id}/cancel-subscription", "header", "idempotency-key"),
]


def cases() -> list[Any]:
    return [
        pytest.param(slot, payload, id=f"{slot.id}-{payload}")
        for slot in SLOTS
        for payload in (TYPED_PAYLOADS if slot.typed else PAYLOADS)
    ]


def put(document: Any, dotted: str, value: Any) -> Any:
    """A copy of `document` with `value` at the dotted path."""
    head, _, rest = dotted.partition(".")
    if isinstance(document, list):
        copy = list(document)
        copy[int(head)] = put(copy[int(head)], rest, value) if rest else value
        return copy
    return {**document, head: put(document.get(head, {}), rest, value) if rest else value}


def injected(slot: Slot, target: Target, payload: str) -> Call:
    call = valid_call(slot.route_key, target)
    if slot.event is not None:
        call = replace(call, body={"session_id": str(target.session_id), **slot.event})
    if slot.where == "body":
        return replace(call, body=put(call.body, slot.name, payload))
    if slot.where == "body_key":
        return replace(call, body=put(call.body, slot.name, {payload: "value"}))
    if slot.where == "query":
        return replace(call, query={**call.query, slot.name: payload})
    if slot.where == "header":
        return replace(call, headers={**call.headers, slot.name: payload})
    assert slot.where == "path"
    # The segment where the route's template has {name}.
    segments = call.path.split("/")
    segments[slot.route_key.split(" ", 1)[1].split("/").index(f"{{{slot.name}}}")] = quote(payload, safe="")
    return replace(call, path="/".join(segments))


@pytest.fixture(scope="module")
def reader(admin: psycopg.Connection[Any], clickhouse: ClickHouse, stripe_billing: StripeBillingStub) -> Target:
    """For the read-only routes and the organizations' writes: a session with an event, a project with a trace, a
    stored memory, and a paying organization (no limit on what its writes create)."""
    target = make_target(admin, clickhouse, stripe_billing)
    assert valid_call("POST /agent/event", target).send(target.user.auth).status == 200
    assert valid_call("POST /agent/write-memory", target).send(target.user.auth).status == 201
    return target


@pytest.fixture(scope="module")
def bystander(admin: psycopg.Connection[Any], clickhouse: ClickHouse, stripe_billing: StripeBillingStub) -> Target:
    """Another tenant, whose rows no injection may reach."""
    target = make_target(admin, clickhouse, stripe_billing)
    assert valid_call("POST /agent/event", target).send(target.user.auth).status == 200
    assert valid_call("POST /agent/write-memory", target).send(target.user.auth).status == 201
    return target


def target_for(slot: Slot, admin: psycopg.Connection[Any], reader: Target) -> Target:
    """Agent writes get a fresh user (each run counts against daily quotas); the rest share the module's reader, whose
    renames repeat and whose creations (projects, organizations) have no limit."""
    if slot.route_key.startswith("POST /agent/"):
        user = create_user(admin)
        return replace(placeholder_target(), user=user, session_id=create_session(admin, user.id))
    return reader


@pytest.mark.parametrize(("slot", "payload_name"), cases())
def test_injection_is_plain_text_or_a_400_and_reaches_nothing_else(
    admin: psycopg.Connection[Any], clickhouse: ClickHouse, reader: Target, bystander: Target, slot: Slot, payload_name: str
) -> None:
    payload = PAYLOADS[payload_name]
    target = target_for(slot, admin, reader)
    before, theirs = fingerprint(admin), tenant_rows(admin, bystander.user)
    traces_before = clickhouse_state(clickhouse) if slot.route_key.startswith("GET /v4/") else None

    result = injected(slot, target, payload).send(target.user.auth)

    assert (result.status, result.body["error_code"] if result.status >= 400 else "") in slot.accepts, result.body
    after = fingerprint(admin)
    assert after.keys() == before.keys(), "a table was dropped or created"
    assert tenant_rows(admin, bystander.user) == theirs
    if result.status >= 400 or slot.typed:
        assert changed_tables(before, after) == []
    elif slot.kept_in is not None:
        assert slot.normalise(payload) in slot.kept_in(admin, result), "stored differently from what was sent"
    if traces_before is not None:
        assert clickhouse_state(clickhouse) == traces_before
    if slot.route_key == "GET /v4/traces" and result.status == 200:
        assert result.body["traces"] == [], "no trace has that name or text"
    if slot.route_key == "GET /agent/read-memory" and result.status == 200:
        own = {
            str(row[0]) for row in admin.execute("SELECT id FROM agentmode.agent_memory WHERE user_id = %s", (target.user.id,))
        }
        assert {row["id"] for row in result.body["results"]} <= own


@pytest.mark.parametrize("payload_name", PAYLOADS)
def test_injection_in_the_authorization_header_is_401_on_every_route(admin: psycopg.Connection[Any], payload_name: str) -> None:
    target = placeholder_target()
    before = fingerprint(admin)

    answers = {
        route.route_key: valid_call(route, target).send({"authorization": f"Bearer {PAYLOADS[payload_name]}"})
        for route in JWT_ROUTES
    }

    assert {key: (r.status, r.body["error_code"]) for key, r in answers.items()} == {
        key: (401, "UNAUTHORIZED") for key in answers
    }
    assert changed_tables(before, fingerprint(admin)) == []


def signed_delivery(event: dict[str, Any]) -> Result:
    raw = json.dumps(event).encode()
    return invoke("POST", "/v4/stripe-webhook", headers={"stripe-signature": stripe_stub.sign(raw, WEBHOOK_SECRET)}, raw_body=raw)


WEBHOOK_FIELDS = {
    "event_id": lambda p: stripe_stub.event("invoice.paid", {"id": "in_1", "object": "invoice"}, event_id=p),
    "event_type": lambda p: {**stripe_stub.event("invoice.paid", {"id": "in_1", "object": "invoice"}), "type": p},
    "subscription_id": lambda p: stripe_stub.event("customer.subscription.updated", stripe_stub.subscription(p)),
    "customer_id": lambda p: stripe_stub.event("customer.subscription.updated", stripe_stub.subscription("sub_x", customer=p)),
    "metadata_org_id": lambda p: stripe_stub.event("customer.subscription.updated", stripe_stub.subscription("sub_y", org_id=p)),
}


@pytest.mark.parametrize("payload_name", PAYLOADS)
@pytest.mark.parametrize("field_name", WEBHOOK_FIELDS)
def test_injection_in_a_signed_stripe_event_is_plain_text_or_a_400(
    admin: psycopg.Connection[Any], webhook: stripe_stub.StripeApiStub, field_name: str, payload_name: str
) -> None:
    """Only Stripe can sign; still, no field of an event may be read as SQL. Orgs are never touched by these events."""
    event = WEBHOOK_FIELDS[field_name](PAYLOADS[payload_name])
    before = fingerprint(admin)

    result = signed_delivery(event)

    assert (result.status, result.body.get("error_code", "")) in ((200, ""), VALIDATION), result.body
    after = fingerprint(admin)
    assert after.keys() == before.keys(), "a table was dropped or created"
    assert set(changed_tables(before, after)) <= {"agentmode.stripe_events", "agentmode.stripe_parked_events"}
    if result.status == 200:
        claimed = admin.execute("SELECT id FROM agentmode.stripe_events WHERE id = %s", (event["id"],)).fetchall()
        assert claimed == [(event["id"],)]


@pytest.mark.parametrize("payload_name", PAYLOADS)
def test_injection_in_the_stripe_signature_is_400(
    admin: psycopg.Connection[Any], webhook: stripe_stub.StripeApiStub, payload_name: str
) -> None:
    raw = json.dumps(stripe_stub.event("invoice.paid", {"id": "in_1", "object": "invoice"})).encode()
    before = fingerprint(admin)

    result = invoke("POST", "/v4/stripe-webhook", headers={"stripe-signature": PAYLOADS[payload_name]}, raw_body=raw)

    assert (result.status, result.body["error_code"]) == (400, "WEBHOOK_SIGNATURE_INVALID")
    assert changed_tables(before, fingerprint(admin)) == []
