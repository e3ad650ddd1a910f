"""Bodies over the limit are 413 PAYLOAD_TOO_LARGE; huge query strings, headers, paths and deeply nested JSON are a 4xx,
never a 5xx; none of them writes anything."""

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from agentmode.app_factory import DEFAULT_MAX_BODY_BYTES
from agentmode.clickhouse import ClickHouse
from local.template_routes import Route
from tests import stripe_stub
from tests.conftest import reset_function_state
from tests.lambda_invoke import event_for, invoke, invoke_event
from tests.security.conftest import WEBHOOK_SECRET
from tests.security.support import (
    JWT_ROUTES,
    ROUTES,
    Target,
    changed_tables,
    fingerprint,
    make_target,
    placeholder_target,
    route_id,
    valid_call,
)
from tests.stripe_billing_stub import StripeBillingStub

# Every route a body can be sent to (API Gateway passes one with any method but GET).
WRITE_ROUTES = [route for route in ROUTES if route.method != "GET"]
GET_ROUTES = [route for route in JWT_ROUTES if route.method == "GET"]
# The webhook takes Stripe's largest events; every other function the factory's default.
MAX_BODY_BYTES = {"StripeWebhookFunction": 1024 * 1024}
HUGE = 1024 * 1024


def limit_of(route: Route) -> int:
    return MAX_BODY_BYTES.get(route.function, DEFAULT_MAX_BODY_BYTES)


@pytest.fixture(scope="module", autouse=True)
def webhook_secret() -> Iterator[None]:
    """The webhook's signing secret, so its deliveries here are otherwise valid. None of them needs a Stripe API read,
    so Stripe's API stays the billing routes' (the webhook fixture would point it at the webhook's stand-in)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        reset_function_state()
        yield
    reset_function_state()


@pytest.fixture(scope="module")
def victim(admin: psycopg.Connection[Any], clickhouse: ClickHouse, stripe_billing: StripeBillingStub) -> Target:
    """A user with a session, a traced project and organizations, for the requests that must be refused or only read:
    they change no row, so they share one (each test checks that)."""
    return make_target(admin, clickhouse, stripe_billing)


@pytest.fixture
def me(admin: psycopg.Connection[Any], clickhouse: ClickHouse, stripe_billing: StripeBillingStub) -> Target:
    """The same, fresh for each request that succeeds (a delete or an answered invite uses its target up)."""
    return make_target(admin, clickhouse, stripe_billing)


def body_of_size(route: Route, target: Target, size: int) -> bytes:
    """The route's valid JSON body (an empty object for a route that reads none) with a padding field, exactly `size`
    bytes long."""
    base = json.dumps({**(valid_call(route, target).body or {}), "padding": ""}).encode()
    return base[:-2] + b"x" * (size - len(base)) + base[-2:]


def path_of(route: Route, target: Target) -> str:
    return valid_call(route, target).path


def headers_for(route: Route, target: Target, body: bytes) -> dict[str, str]:
    if route.function == "StripeWebhookFunction":
        return {"stripe-signature": stripe_stub.sign(body, WEBHOOK_SECRET)}
    return target.user.auth


@pytest.mark.parametrize("route", WRITE_ROUTES, ids=route_id)
def test_a_body_over_the_limit_is_413_and_writes_nothing(admin: psycopg.Connection[Any], victim: Target, route: Route) -> None:
    body = body_of_size(route, victim, limit_of(route) + 1)
    before = fingerprint(admin)

    result = invoke(route.method, path_of(route, victim), headers=headers_for(route, victim, body), raw_body=body)

    assert (result.status, result.body["error_code"]) == (413, "PAYLOAD_TOO_LARGE")
    assert result.body["details"] == {"max_bytes": limit_of(route)}
    assert changed_tables(before, fingerprint(admin)) == []


@pytest.mark.parametrize("route", WRITE_ROUTES, ids=route_id)
def test_a_body_at_the_limit_is_not_refused_for_its_size(admin: psycopg.Connection[Any], me: Target, route: Route) -> None:
    body = body_of_size(route, me, limit_of(route))

    result = invoke(route.method, path_of(route, me), headers=headers_for(route, me, body), raw_body=body)

    if valid_call(route, me).body is None:
        assert result.status == 200, "a route that reads no body ignores it"
    else:
        assert result.status == 400, "refused for the unknown padding field, not its size"
        assert result.body["error_code"] in ("VALIDATION_ERROR", "WEBHOOK_SIGNATURE_INVALID")


@pytest.mark.parametrize("content_length", [None, "100"], ids=["absent", "understated"])
@pytest.mark.parametrize(
    "route",
    WRITE_ROUTES,
    ids=route_id,
)
def test_a_body_over_the_limit_is_413_whatever_its_content_length_says(
    admin: psycopg.Connection[Any], victim: Target, route: Route, content_length: str | None
) -> None:
    body = body_of_size(route, victim, limit_of(route) + 1)
    event = event_for(route.method, path_of(route, victim), headers=headers_for(route, victim, body), body=body)
    del event["headers"]["content-length"]
    if content_length is not None:
        event["headers"]["content-length"] = content_length
    before = fingerprint(admin)

    result = invoke_event(event)

    assert changed_tables(before, fingerprint(admin)) == []
    assert (result.status, result.body["error_code"]) == (413, "PAYLOAD_TOO_LARGE")


@pytest.mark.parametrize("content_length", ["abc", "-1", "1e9", "99999999999999999999"])
@pytest.mark.parametrize("route", WRITE_ROUTES, ids=route_id)
def test_a_malformed_or_huge_content_length_is_413(
    admin: psycopg.Connection[Any], victim: Target, route: Route, content_length: str
) -> None:
    body = json.dumps(valid_call(route, victim).body).encode()
    event = event_for(route.method, path_of(route, victim), headers=headers_for(route, victim, body), body=body)
    event["headers"]["content-length"] = content_length
    before = fingerprint(admin)

    result = invoke_event(event)

    assert (result.status, result.body["error_code"]) == (413, "PAYLOAD_TOO_LARGE")
    assert changed_tables(before, fingerprint(admin)) == []


def query_cases() -> list[Any]:
    cases = []
    for route in GET_ROUTES:
        probe = valid_call(route, placeholder_target())
        for name in probe.query:
            for kind, value in (("text", "x" * HUGE), ("number", "9" * 100_000)):
                cases.append(pytest.param(route, name, value, id=f"{route.route_key}-{name}-{kind}"))
    return cases


@pytest.mark.parametrize(("route", "name", "value"), query_cases())
def test_a_huge_query_parameter_is_400_and_writes_nothing(
    admin: psycopg.Connection[Any], victim: Target, route: Route, name: str, value: str
) -> None:
    call = valid_call(route, victim)
    before = fingerprint(admin)

    result = invoke(call.method, call.path, headers=victim.user.auth, query={**call.query, name: value})

    assert (result.status, result.body["error_code"]) == (400, "VALIDATION_ERROR")
    assert changed_tables(before, fingerprint(admin)) == []


@pytest.mark.parametrize("route", GET_ROUTES, ids=route_id)
def test_a_huge_unknown_query_string_is_ignored(victim: Target, route: Route) -> None:
    call = valid_call(route, victim)
    junk = {f"junk{i}": "y" * 100 for i in range(2_000)} | {"blob": "z" * HUGE}

    result = invoke(call.method, call.path, headers=victim.user.auth, query={**call.query, **junk})

    assert result.status == 200


@pytest.mark.parametrize("route", JWT_ROUTES, ids=route_id)
def test_a_huge_authorization_header_is_401(admin: psycopg.Connection[Any], victim: Target, route: Route) -> None:
    before = fingerprint(admin)

    result = valid_call(route, victim).send({"authorization": "Bearer " + "a" * HUGE})

    assert (result.status, result.body["error_code"]) == (401, "UNAUTHORIZED")
    assert changed_tables(before, fingerprint(admin)) == []


@pytest.mark.parametrize("route", JWT_ROUTES, ids=route_id)
def test_huge_and_many_unknown_headers_are_ignored(me: Target, route: Route) -> None:
    junk = {f"x-junk-{i}": "v" * 100 for i in range(1_000)} | {"x-blob": "b" * HUGE}

    result = valid_call(route, me).send({**me.user.auth, **junk})

    assert result.status in (200, 201)


def test_a_huge_idempotency_key_is_400_and_writes_nothing(admin: psycopg.Connection[Any], victim: Target) -> None:
    before = fingerprint(admin)

    result = valid_call("POST /agent/start", victim).send({**victim.user.auth, "idempotency-key": "k" * HUGE})

    assert (result.status, result.body["error_code"]) == (400, "VALIDATION_ERROR")
    assert changed_tables(before, fingerprint(admin)) == []


@pytest.mark.parametrize(
    "signature", ["t=1," + "v1=ab," * 200_000, "x" * HUGE], ids=["two_hundred_thousand_signatures", "one_megabyte"]
)
def test_a_huge_stripe_signature_is_400_and_writes_nothing(admin: psycopg.Connection[Any], signature: str) -> None:
    body = json.dumps(stripe_stub.event("invoice.paid", {"id": "in_1", "object": "invoice"})).encode()
    before = fingerprint(admin)

    result = invoke("POST", "/v4/stripe-webhook", headers={"stripe-signature": signature}, raw_body=body)

    assert (result.status, result.body["error_code"]) == (400, "WEBHOOK_SIGNATURE_INVALID")
    assert changed_tables(before, fingerprint(admin)) == []


@pytest.mark.parametrize("path", ["/v4/traces/" + "a" * 100_000])
def test_a_huge_path_is_4xx(victim: Target, path: str) -> None:
    result = invoke("GET", path, headers=victim.user.auth, query={"project_id": str(victim.project_id)})

    assert (result.status, result.body["error_code"]) in ((400, "VALIDATION_ERROR"), (404, "NOT_FOUND"))


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": True}
    for _ in range(depth):
        value = {"a": value}
    return value


DEEP_JSON = [
    ("POST /agent/write-memory", {"content": "Deep metadata.", "memory_type": "insight", "metadata": nested(300)}),
    ("POST /agent/event", {"action_type": "tool_called", "tool_name": "search", "input_data": nested(300)}),
    ("POST /agent/event", {"action_type": "tool_result", "tool_name": "search", "status": "success", "output_data": nested(300)}),
    ("POST /agent/event", {"action_type": "session_completed", "status": "success", "result": nested(300)}),
]


@pytest.mark.parametrize(("route_key", "body"), DEEP_JSON, ids=[f"{r}-{sorted(b)[0]}" for r, b in DEEP_JSON])
def test_deeply_nested_json_is_400_and_writes_nothing(
    admin: psycopg.Connection[Any], victim: Target, route_key: str, body: dict[str, Any]
) -> None:
    if route_key == "POST /agent/event":
        body = {"session_id": str(victim.session_id), **body}
    before = fingerprint(admin)

    result = invoke("POST", route_key.split(" ")[1], headers=victim.user.auth, json_body=body)

    assert (result.status, result.body["error_code"]) == (400, "VALIDATION_ERROR")
    assert changed_tables(before, fingerprint(admin)) == []


def event_body(session: str, fields: bytes) -> bytes:
    return b'{"session_id": "' + session.encode() + b'", "action_type": "tool_called", "tool_name": "search", ' + fields + b"}"


MEMORY = b'{"content": "x", "memory_type": "insight", '
UNPARSEABLE = {
    "nested_past_the_parser": ("/agent/write-memory", MEMORY + b'"metadata": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_000 + b"}"),
    "deep_array": ("/agent/write-memory", MEMORY + b'"metadata": {"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}"),
    "five_thousand_digit_number": ("/agent/write-memory", MEMORY + b'"metadata": {"n": ' + b"9" * 5_000 + b"}}"),
    "overflowing_float_in_metadata": ("/agent/write-memory", MEMORY + b'"metadata": {"n": 1e999999}}'),
    "nan_in_metadata": ("/agent/write-memory", MEMORY + b'"metadata": {"n": NaN}}'),
    "infinity_in_event_input": ("/agent/event", b'"input_data": {"n": -Infinity}'),
    "nan_in_event_input": ("/agent/event", b'"input_data": {"n": [NaN]}'),
}


@pytest.mark.parametrize("case", UNPARSEABLE)
def test_json_postgres_or_the_parser_cannot_hold_is_400_and_writes_nothing(
    admin: psycopg.Connection[Any], victim: Target, case: str
) -> None:
    path, raw = UNPARSEABLE[case]
    if path == "/agent/event":
        raw = event_body(str(victim.session_id), raw)
    before = fingerprint(admin)

    result = invoke("POST", path, headers=victim.user.auth, raw_body=raw)

    assert (result.status, result.body["error_code"]) == (400, "VALIDATION_ERROR")
    assert changed_tables(before, fingerprint(admin)) == []
