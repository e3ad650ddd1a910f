"""Property-based fuzzing of every route in openapi.json with schemathesis, over real HTTP against the local runner.

Each generated request carries a valid token of a user who has data (brand memory, credits, a pro project with a trace,
a session with events, organizations with a member, invites and a subscription), and about half the cases swap in those
real ids (two thirds on /opsboard), so the 2xx paths are fuzzed as well as the 404s. Whatever is sent: no 5xx, every
4xx in the one error format, and status, content type and body as the contract says. FUZZ_MAX_EXAMPLES bounds the
random cases per route (small in `make test`; `make fuzz` runs a long one).
"""

import base64
import hashlib
import hmac
import json
import os
import tempfile
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, HookContext, Response
from schemathesis.checks import CheckFunction

from agentmode.errors import ErrorBody, ErrorCode
from local.stack import ROOT
from tests.factories import User, add_memory, create_session, create_user
from tests.runner_support import asking_session
from tests.stripe_billing_stub import PRICE_ID, StripeBillingStub
from tests.trace_data import NOW, Span, insert_spans, llm_attributes, new_trace_id
from traces.cursor import LOCAL_AND_TEST_ONLY_CURSOR_KEY, MAC_CONTEXT, filters_fingerprint
from traces.time_range import EARLIEST_NS

# Hypothesis caches what it learns (source constants, Unicode tables) under ./.hypothesis unless told otherwise; read
# on first use, so setting it here, before any test runs, keeps the repository clean.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "agentmode-hypothesis"))
FUZZ_MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "10"))
# A fixed seed plus derandomize: CI sees the same cases on every run, so a red build is reproducible.
FUZZ_SEED = int(os.environ.get("FUZZ_SEED", "20261125"))
STRIPE_TEST_SECRET = "whsec_fuzz_test_secret"
WEBHOOK = "/v4/stripe-webhook"
TERMINAL = ("completed", "failed")
# Status codes seen per operation, for the reachability check at the end.
OUTCOMES: defaultdict[str, Counter[int]] = defaultdict(Counter)

# The fuzz user's rows, with ids fixed at import so the generation hooks below can offer them.
PROJECT_ID = uuid.uuid4()
SESSION_ID = uuid.uuid4()
# Answered or cancelled by the fuzzed /agent/respond and /agent/cancel: asking again before each of their cases.
ASKING_SESSION_ID = uuid.uuid4()
CONTROL_ROUTES = ("/agent/respond", "/agent/cancel")
TRACE_ID = new_trace_id()
REAL_QUERY = {"project_id": str(PROJECT_ID), "session_id": str(SESSION_ID)}
# What the /opsboard routes act on: a paying team the fuzz user owns (a project, a developer, a pending invite, a
# subscription set to cancel at period end), an empty organization of theirs, and another user's organizations that
# the fuzz user is a developer of and is invited to. _restore_team puts each back before every /opsboard case.
TEAM_ORG_ID = uuid.uuid4()
TEAM_PROJECT_ID = uuid.uuid4()
MEMBER_ID = uuid.uuid4()
INVITE_EMAIL = f"invitee-{uuid.uuid4().hex[:12]}@example.test"
SUBSCRIPTION_ID = f"sub_fuzz{uuid.uuid4().hex[:16]}"
SPARE_ORG_ID = uuid.uuid4()
HOST_ID = uuid.uuid4()
JOINED_ORG_ID = uuid.uuid4()
INVITING_ORG_ID = uuid.uuid4()
REAL_PATH = {"trace_id": TRACE_ID, "org_id": str(TEAM_ORG_ID), "project_id": str(TEAM_PROJECT_ID), "email": INVITE_EMAIL}
# The organization an action names where that is not the team: one it can delete or check out, leave, or answer.
ORG_OF = {
    ("DELETE", "/opsboard/orgs/{org_id}"): SPARE_ORG_ID,
    ("POST", "/opsboard/orgs/{org_id}/create-checkout-session"): SPARE_ORG_ID,
    ("POST", "/opsboard/orgs/{org_id}/create-free-subscription"): SPARE_ORG_ID,
    ("POST", "/opsboard/orgs/{org_id}/leave"): JOINED_ORG_ID,
    ("POST", "/opsboard/orgs/{org_id}/accept-invite"): INVITING_ORG_ID,
    ("POST", "/opsboard/orgs/{org_id}/accept"): INVITING_ORG_ID,
    ("POST", "/opsboard/orgs/{org_id}/decline-invite"): INVITING_ORG_ID,
}
# A promotion code Stripe (the stand-in) honours, so checkouts and code checks reach their success with a discount.
DISCOUNT_CODE = "FUZZ10"
REAL_BODY = {
    "org_id": str(TEAM_ORG_ID), "user_id": str(MEMBER_ID), "subscription_id": SUBSCRIPTION_ID, "price_id": PRICE_ID,
    "discount_code": DISCOUNT_CODE,
}  # fmt: skip

config = schemathesis.Config.from_dict(
    {
        "seed": FUZZ_SEED,
        "cache": {"enabled": False},
        "generation": {"max-examples": FUZZ_MAX_EXAMPLES, "deterministic": True, "database": "none"},
        # Every case is an HTTP round trip through a Lambda emulator: the default deadline would flake on a busy machine.
        "suppress-health-check": ["too_slow", "filter_too_much"],
        # Methods a path does not serve: the local runner answers them 405 in the error format (API Gateway itself
        # answers 404 for a route it does not have); TRACE and QUERY are left to tests/e2e/test_runner_errors.py.
        "phases": {"coverage": {"unexpected-methods": ["delete", "get", "options", "patch", "post", "put"]}},
    }
)
schema = schemathesis.openapi.from_path(ROOT / "openapi.json", config=config)


@dataclass(frozen=True)
class FuzzUser:
    user: User
    session_id: uuid.UUID


def _insert_project(admin: psycopg.Connection[Any], user_id: uuid.UUID) -> None:
    org_id = uuid.uuid4()
    admin.execute("INSERT INTO agentmode.orgs (id, name, prem_status) VALUES (%s, 'fuzz org', 'pro')", (org_id,))
    admin.execute("INSERT INTO agentmode.user_orgs (user_id, org_id, role) VALUES (%s, %s, 'developer')", (user_id, org_id))
    admin.execute("INSERT INTO agentmode.projects (id, org_id, name) VALUES (%s, %s, 'fuzzed')", (PROJECT_ID, org_id))


def _trace_spans() -> list[Span]:
    """A root with two LLM children (one failed) and an event, within every default time window."""
    start = NOW - timedelta(hours=1)
    root = Span(TRACE_ID, "agent.run", start=start, duration=timedelta(seconds=10), attributes={"agentops.tags": "fuzz"})
    children = [
        Span(
            TRACE_ID,
            "openai.chat.completion",
            parent_span_id=root.span_id,
            start=start + timedelta(seconds=1 + i),
            status_code="Error" if i == 0 else "Unset",
            attributes=llm_attributes("gpt-4o-mini", 100, 50),
            events=[(start + timedelta(seconds=1 + i), "retry", {"attempt": "1"})],
        )
        for i in range(2)
    ]
    return [root, *children]


def _confirmed_user(admin: psycopg.Connection[Any], user_id: uuid.UUID) -> None:
    admin.execute(
        "INSERT INTO auth.users (id, email, email_confirmed_at) VALUES (%s, %s, now())", (user_id, f"{user_id}@test.local")
    )


def _restore_team(admin: psycopg.Connection[Any], user_id: uuid.UUID, stripe: StripeBillingStub) -> None:
    """What a fuzzed delete, removal, leave, answer or reactivation used up, back as the fixture made it."""
    admin.execute(
        "INSERT INTO agentmode.orgs (id, name) VALUES (%s, 'fuzz spare'), (%s, 'fuzz joined'), (%s, 'fuzz inviting')"
        " ON CONFLICT (id) DO NOTHING",
        (SPARE_ORG_ID, JOINED_ORG_ID, INVITING_ORG_ID),
    )
    admin.execute(
        "INSERT INTO agentmode.user_orgs (user_id, org_id, role) VALUES (%s, %s, 'developer'), (%s, %s, 'owner'),"
        " (%s, %s, 'owner'), (%s, %s, 'developer'), (%s, %s, 'owner') ON CONFLICT DO NOTHING",
        (MEMBER_ID, TEAM_ORG_ID, user_id, SPARE_ORG_ID, HOST_ID, JOINED_ORG_ID, user_id, JOINED_ORG_ID, HOST_ID, INVITING_ORG_ID),
    )
    admin.execute("DELETE FROM agentmode.user_orgs WHERE org_id = %s AND user_id = %s", (INVITING_ORG_ID, user_id))
    admin.execute(
        "INSERT INTO agentmode.projects (id, org_id, name) VALUES (%s, %s, 'fuzz team project') ON CONFLICT (id) DO NOTHING",
        (TEAM_PROJECT_ID, TEAM_ORG_ID),
    )
    for org_id, email, inviter in ((TEAM_ORG_ID, INVITE_EMAIL, user_id), (INVITING_ORG_ID, f"{user_id}@test.local", HOST_ID)):
        admin.execute(
            "INSERT INTO agentmode.org_invites (org_id, email, role, inviter_id, delivery, expires_at)"
            " SELECT %s, %s, 'developer', %s, 'in_app', now() + interval '7 days' WHERE NOT EXISTS"
            " (SELECT 1 FROM agentmode.org_invites WHERE org_id = %s AND email = %s AND status = 'pending')",
            (org_id, email, inviter, org_id, email),
        )
    stripe.subscriptions[SUBSCRIPTION_ID]["cancel_at_period_end"] = True


def _arrange_team(admin: psycopg.Connection[Any], user_id: uuid.UUID, stripe: StripeBillingStub) -> None:
    for someone in (MEMBER_ID, HOST_ID):
        _confirmed_user(admin, someone)
    stripe.add_coupon("fuzz-ten-percent", percent_off=10)
    stripe.add_promotion_code(DISCOUNT_CODE, "fuzz-ten-percent")
    customer = stripe.add_customer()
    stripe.add_subscription(SUBSCRIPTION_ID, customer=customer, cancel_at_period_end=True, quantity=2)
    admin.execute(
        "INSERT INTO agentmode.orgs (id, name, prem_status, subscription_id, subscription_status,"
        " subscription_cancel_at_period_end, stripe_customer_id) VALUES (%s, 'fuzz team', 'pro', %s, 'active', true, %s)",
        (TEAM_ORG_ID, SUBSCRIPTION_ID, customer),
    )
    admin.execute("INSERT INTO agentmode.user_orgs (user_id, org_id, role) VALUES (%s, %s, 'owner')", (user_id, TEAM_ORG_ID))
    _restore_team(admin, user_id, stripe)


@pytest.fixture(scope="module")
def stripe_api() -> Iterator[StripeBillingStub]:
    stub = StripeBillingStub()
    yield stub
    stub.close()


@pytest.fixture(scope="module")
def fuzz_user(
    admin: psycopg.Connection[Any], clickhouse: Any, live_server: str, stripe_api: StripeBillingStub
) -> Iterator[FuzzUser]:
    """A pro user with brand memory, a million credits, a project with a trace, a session that has events, and the
    organizations the /opsboard routes act on, with Stripe's API on loopback for the billing routes."""
    from tests.conftest import reset_function_state

    user = create_user(admin, credits=1_000_000, plan="pro")
    _arrange_team(admin, user.id, stripe_api)
    # `make fuzz` sends one user thousands of requests: lift the hourly API-call limit for this run, as an operator would.
    api_calls = admin.execute("SELECT limit_count FROM agentmode.rate_limit_policies WHERE action = 'api_call'").fetchone()[0]
    admin.execute("UPDATE agentmode.rate_limit_policies SET limit_count = 100000000 WHERE action = 'api_call'")
    add_memory(admin, user.id, memory_type="insight")
    _insert_project(admin, user.id)
    insert_spans(clickhouse, PROJECT_ID, _trace_spans())
    session_id = create_session(admin, user.id, id=SESSION_ID)
    for event in (
        {"action_type": "step_started", "step_name": "Analyze brand memory"},
        {"action_type": "tool_called", "tool_name": "web"},
    ):
        logged = httpx.post(
            f"{live_server}/agent/event", headers=user.auth, json={"session_id": str(session_id), **event}, timeout=30
        )
        assert logged.status_code == 200, logged.text
    with pytest.MonkeyPatch.context() as patch:
        # Stripe's secret: without it the webhook answers 503 (not configured), which is not what this run is about.
        patch.setenv("STRIPE_WEBHOOK_SECRET", STRIPE_TEST_SECRET)
        stripe_api.configure(patch)
        reset_function_state()
        yield FuzzUser(user, session_id)
    admin.execute("UPDATE agentmode.rate_limit_policies SET limit_count = %s WHERE action = 'api_call'", (api_calls,))
    reset_function_state()


def _with_real(value: dict[str, Any], real: dict[str, Any], real_share: int = 1) -> st.SearchStrategy[dict[str, Any]]:
    """The generated value, or the same with the fuzz user's ids where it has those keys: both paths get fuzzed. The
    real ids are `real_share` times as likely as the generated ones."""
    known = {key: real[key] for key in real if key in value}
    return st.sampled_from([value, *[{**value, **known}] * real_share]) if known else st.just(value)


# An /opsboard action mostly needs two real ids at once (the organization in the path, the member in the body): at
# even odds only a quarter of its cases could succeed, too few of the run's handful to reach a 2xx on every route.
OPSBOARD_REAL_SHARE = 2


@schema.hook
def flatmap_query(context: HookContext, query: Any) -> st.SearchStrategy[Any]:
    return _with_real(query, REAL_QUERY) if isinstance(query, dict) else st.just(query)


@schema.hook
def flatmap_path_parameters(context: HookContext, path_parameters: Any) -> st.SearchStrategy[Any]:
    if not isinstance(path_parameters, dict) or context.operation is None:
        return st.just(path_parameters)
    org = ORG_OF.get((context.operation.method.upper(), context.operation.path), TEAM_ORG_ID)
    share = OPSBOARD_REAL_SHARE if context.operation.path.startswith("/opsboard/") else 1
    return _with_real(path_parameters, {**REAL_PATH, "org_id": str(org)}, share)


# Events the agent_event validator accepts: its cross-field rules (step names, required fields per kind) are not in
# the JSON schema, so random bodies almost never pass them; these keep the 200 path and the state machine fuzzed.
VALID_EVENTS: tuple[dict[str, Any], ...] = (
    {"action_type": "step_started", "step_name": "Research competitors", "step_index": 2},
    {"action_type": "step_progress", "step_name": "Research competitors", "progress_percentage": 40, "message": "half"},
    {"action_type": "step_completed", "step_name": "Research competitors", "result": {"ads": 12}},
    {"action_type": "tool_called", "tool_name": "meta_ads_search", "input_data": {"q": "Nike"}},
    {"action_type": "tool_result", "tool_name": "meta_ads_search", "status": "success", "execution_time_ms": 900},
    {"action_type": "reasoning_update", "reasoning": "Short hooks win.", "confidence_score": 0.8},
    {"action_type": "user_input_required", "question": "Which?", "options": [{"value": "a", "label": "A"}]},
    {"action_type": "error", "error_message": "Rate limited", "recovery_strategy": "retry_after_delay"},
    {"action_type": "session_completed", "status": "success", "result": {"videos": 3}},
)


@schema.hook
def flatmap_body(context: HookContext, body: Any) -> st.SearchStrategy[Any]:
    if context.operation is None or not isinstance(body, dict):
        return st.just(body)
    if context.operation.path.startswith("/opsboard/"):
        return _with_real(body, REAL_BODY, OPSBOARD_REAL_SHARE)
    if context.operation.path in CONTROL_ROUTES:
        return _with_real(body, {"session_id": str(ASKING_SESSION_ID), "question_seq": 1, "value": "a"}, OPSBOARD_REAL_SHARE)
    if context.operation.path != "/agent/event":
        return st.just(body)
    real = {"session_id": str(SESSION_ID)}
    return st.one_of(_with_real(body, real), st.sampled_from(VALID_EVENTS).map(lambda event: {**event, **real}))


def error_format(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Every 4xx and 5xx is ErrorBody, with a code from the one table whose status is the one answered."""
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"error body is not JSON: {response.text[:200]!r}") from None
    assert isinstance(body, dict), f"error body is not an object: {response.text[:200]}"
    missing = set(ErrorBody.model_fields) - body.keys()
    assert not missing, f"error body lacks {sorted(missing)}: {response.text[:200]}"
    code = body["error_code"]
    assert code in ErrorCode.__members__, f"unknown error_code {code!r}"
    assert ErrorCode[code].http_status == response.status_code, f"{code} answered with {response.status_code}"
    return None


def method_not_allowed_names_allow(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """RFC 9110: a 405 says which methods the path does answer."""
    if response.status_code == 405:
        assert response.headers.get("allow"), "405 without an Allow header"
    return None


def webhook_signature_rejected(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Nothing the fuzzer sends carries Stripe's signature, so the webhook can only say WEBHOOK_SIGNATURE_INVALID."""
    if case.operation.path == WEBHOOK and case.method.upper() == "POST":
        assert response.status_code == 400, f"webhook answered {response.status_code}"
        assert response.json()["error_code"] == ErrorCode.WEBHOOK_SIGNATURE_INVALID.name
    return None


CHECKS: list[CheckFunction] = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    error_format,
    method_not_allowed_names_allow,
    webhook_signature_rejected,
]


def _reopen_if_ended(admin: psycopg.Connection[Any]) -> None:
    """A fuzzed session_completed ends the session, after which every event is 409; reopen it so 200 stays reachable."""
    admin.execute(
        "UPDATE agentmode.agent_sessions SET status = 'initializing', completed_at = NULL WHERE id = %s AND status = ANY(%s)",
        (SESSION_ID, list(TERMINAL)),
    )


@schema.parametrize()
def test_every_route_answers_within_its_contract(
    case: Case[Any], live_server: str, fuzz_user: FuzzUser, admin: psycopg.Connection[Any], stripe_api: StripeBillingStub
) -> None:
    headers = {} if case.operation.path == WEBHOOK else fuzz_user.user.auth
    if case.operation.path == "/agent/event":
        _reopen_if_ended(admin)
    if case.operation.path in CONTROL_ROUTES:
        asking_session(admin, fuzz_user.user.id, ASKING_SESSION_ID)
    if case.operation.path.startswith("/opsboard/"):
        _restore_team(admin, fuzz_user.user.id, stripe_api)
    response = case.call_and_validate(base_url=live_server, headers=headers, checks=CHECKS, timeout=30)
    OUTCOMES[case.operation.label][response.status_code] += 1


def test_the_fuzz_run_reached_a_success_on_every_route() -> None:
    """Guards the data set-up above: a run that only ever met 404s would prove little about the 2xx bodies."""
    if not OUTCOMES:
        pytest.skip("the fuzz test did not run in this session")
    unreached = sorted(
        label for label, codes in OUTCOMES.items() if label != f"POST {WEBHOOK}" and not any(200 <= code < 300 for code in codes)
    )
    assert not unreached, f"no 2xx from {unreached}: {dict(OUTCOMES)}"


def _cursor(**fields: Any) -> str:
    """A hand-made trace-list cursor for the fuzz project, signed with the test key as the server would sign it: its
    content must still be validated after the signature checks out (a leaked key, or a bug in what the server signs)."""
    cursor = {"o": "start_time", "d": "desc", "s": EARLIEST_NS, "e": EARLIEST_NS + 10**18, "k": "5", "t": "a" * 32}
    payload = base64.urlsafe_b64encode(json.dumps({**cursor, **fields}).encode()).rstrip(b"=").decode()
    fingerprint = filters_fingerprint(str(PROJECT_ID), None, None)
    message = b"\n".join((MAC_CONTEXT, fingerprint.encode(), payload.encode()))
    mac = base64.urlsafe_b64encode(hmac.new(LOCAL_AND_TEST_ONLY_CURSOR_KEY, message, hashlib.sha256).digest()).rstrip(b"=")
    return f"{payload}.{mac.decode()}"


def _post(path: str, body: str) -> tuple[str, str, dict[str, Any]]:
    return "POST", path, {"content": body.replace("SESSION", str(SESSION_ID)), "headers": {"content-type": "application/json"}}


def _list(**params: str) -> tuple[str, str, dict[str, Any]]:
    return "GET", "/v4/traces", {"params": {"project_id": str(PROJECT_ID), **params}}


# Inputs fuzzing found (or probing around its finds showed) to end in a 500: now each is a 400 in the error format.
UNSTORABLE_OR_UNQUERYABLE = {
    "NUL in the goal (Postgres text)": _post("/agent/start", '{"goal": "a\\u0000b"}'),
    "NaN in memory metadata (not JSON for jsonb)": _post(
        "/agent/write-memory", '{"content": "c", "memory_type": "insight", "metadata": {"a": NaN}}'
    ),
    "Infinity in an event's input_data": _post(
        "/agent/event", '{"session_id": "SESSION", "action_type": "tool_called", "tool_name": "t", "input_data": {"a": 1e999}}'
    ),
    "unpaired surrogate in a metadata key": _post(
        "/agent/write-memory", '{"content": "c", "memory_type": "insight", "metadata": {"\\udc80": 1}}'
    ),
    "expires_at in year 10000 once in UTC": _post(
        "/agent/write-memory", '{"content": "c", "memory_type": "insight", "expires_at": "9999-12-31T23:59:59-23:59"}'
    ),
    "cursor start beyond the queryable window": _list(cursor=_cursor(s=10**25)),
    "negative key for an unsigned sort column": _list(order_by="span_count", cursor=_cursor(o="span_count", k="-5")),
    "decimal key for an integer sort column": _list(cursor=_cursor(k="1.5")),
    "cost key beyond Decimal128(10)": _list(order_by="total_cost", cursor=_cursor(o="total_cost", k="9" * 30)),
}


def test_a_hand_made_cursor_with_valid_content_is_served(live_server: str, fuzz_user: FuzzUser) -> None:
    """The control for the cursor cases below: their 400 comes from the content, not from the signature."""
    method, path, request_kwargs = _list(cursor=_cursor())
    response = httpx.request(method, f"{live_server}{path}", headers=fuzz_user.user.auth, timeout=30, **request_kwargs)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("method", "path", "request_kwargs"), UNSTORABLE_OR_UNQUERYABLE.values(), ids=UNSTORABLE_OR_UNQUERYABLE)
def test_input_the_stores_cannot_hold_is_a_validation_error(
    live_server: str, fuzz_user: FuzzUser, method: str, path: str, request_kwargs: dict[str, Any]
) -> None:
    kwargs = {name: value for name, value in request_kwargs.items() if name != "headers"}
    headers = {**fuzz_user.user.auth, **request_kwargs.get("headers", {})}
    response = httpx.request(method, f"{live_server}{path}", headers=headers, timeout=30, **kwargs)
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == ErrorCode.VALIDATION_ERROR.name


@pytest.mark.parametrize(
    ("window", "finds_the_trace"),
    [
        ({"start_time": "0001-01-01T00:00:00Z"}, True),
        ({"start_time": "0001-01-01T00:00:00+23:59"}, True),
        ({"start_time": "2020-01-01T00:00:00Z", "end_time": "2200-01-01T00:00:00Z"}, True),
        ({"start_time": "3000-01-01T00:00:00Z", "end_time": "4000-01-01T00:00:00Z"}, False),
        ({"end_time": "9999-12-31T23:59:59-23:59"}, False),
    ],
    ids=["from year 1", "from year 0 in UTC", "to 2200", "years 3000 to 4000", "to year 10000 in UTC"],
)
def test_a_time_window_beyond_what_clickhouse_holds_is_clamped_not_wrapped(
    live_server: str, fuzz_user: FuzzUser, window: dict[str, str], finds_the_trace: bool
) -> None:
    """Out-of-range times used to wrap around in ClickHouse: year 1 found nothing, 3000-4000 found today's traces."""
    response = httpx.get(
        f"{live_server}/v4/traces", headers=fuzz_user.user.auth, params={"project_id": str(PROJECT_ID), **window}, timeout=30
    )
    assert response.status_code == 200, response.text
    assert (TRACE_ID in {trace["trace_id"] for trace in response.json()["traces"]}) is finds_the_trace
