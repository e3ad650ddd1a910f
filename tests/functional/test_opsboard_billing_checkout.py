"""/opsboard/orgs/{org_id}/create-checkout-session (seed 000): the session Stripe is asked for (seats, price, org id,
return URL, idempotency key), one customer per organization, reuse and replacement of open sessions, already
subscribed organizations, concurrent checkouts and missing deployment settings, against the loopback Stripe stand-in
(tests.stripe_billing_stub), which records every request Stripe would have received."""

import asyncio
import re
import threading
import uuid
from typing import Any

import psycopg
import pytest

from agentmode import db
from local.lambda_runtime import load_handler
from tests.billing_support import assert_error, billing_row, checkout, member, sent_params, subscribe
from tests.conftest import reset_function_state
from tests.factories import User
from tests.lambda_invoke import Result, function_dir
from tests.log_capture import LogOutput
from tests.stripe_billing_stub import API_KEY, APP_URL, PRICE_ID, StripeBillingStub

LIVE_STATUSES = ["active", "trialing", "past_due", "unpaid", "incomplete"]
STRIPE_STATUSES = [*LIVE_STATUSES, "incomplete_expired", "canceled", "paused"]


def test_checkout_answers_the_sessions_client_secret_and_records_it(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    result = checkout(user, org)
    assert result.status == 200
    session = stripe_api.sessions[result.body["session_id"]]
    assert result.body == {"clientSecret": session["client_secret"], "session_id": session["id"], "reused": False}
    assert re.fullmatch(r"cs_test_\w+_secret_\w+", result.body["clientSecret"])
    assert {r.api_key for r in stripe_api.requests} == {API_KEY}
    row = billing_row(admin, org)
    assert (row["checkout_session_id"], row["stripe_customer_id"], row["checkout_generation"]) == (
        session["id"],
        session["customer"],
        1,
    )


def test_checkout_buys_a_seat_per_member_by_default(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    member(admin, org, "developer")
    assert checkout(user, org).status == 200
    assert sent_params(stripe_api)["line_items"] == [{"price": PRICE_ID, "quantity": "2"}]


def test_checkout_buys_the_seats_asked_for(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    assert checkout(user, org, quantity=7).status == 200
    params = sent_params(stripe_api)
    assert (params["line_items"][0]["quantity"], params["metadata"]["initial_seats"]) == ("7", "7")


@pytest.mark.parametrize("quantity", [0, 101, "two"])
def test_a_quantity_outside_1_to_100_is_400(quantity: Any, user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    result = checkout(user, org, quantity=quantity)
    assert_error(result, 400, "VALIDATION_ERROR")
    assert [e["field"] for e in result.body["details"]["errors"]] == ["body.quantity"]


def test_weakness_checkout_never_trusts_the_clients_price(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    """The real server creates the session for whatever price_id the client sends; its webhook then ignores that
    price, so the customer pays and the organization is never upgraded."""
    refused = checkout(user, org, price_id="price_one_cent")
    assert_error(refused, 400, "VALIDATION_ERROR")
    assert [e["field"] for e in refused.body["details"]["errors"]] == ["body.price_id"]
    assert stripe_api.requests == []
    assert checkout(user, org, price_id=PRICE_ID).status == 200
    assert sent_params(stripe_api)["line_items"][0]["price"] == PRICE_ID


def test_checkout_carries_the_org_id_in_client_reference_id_metadata_and_subscription_data(
    user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    checkout(user, org)
    params = sent_params(stripe_api)
    assert params["client_reference_id"] == str(org)
    assert params["metadata"] == {"org_id": str(org), "initial_seats": "1", "price_id": PRICE_ID}
    assert params["subscription_data"] == {"metadata": {"org_id": str(org)}}


def test_checkout_is_a_subscription_for_stripe_elements_that_returns_to_the_app(
    user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    checkout(user, org)
    params = sent_params(stripe_api)
    assert (params["ui_mode"], params["mode"]) == ("elements", "subscription")
    assert params["return_url"] == f"{APP_URL}/settings/organization?session_id={{CHECKOUT_SESSION_ID}}"


def test_the_session_key_comes_from_the_org_its_checkouts_and_the_terms(
    user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    checkout(user, org, quantity=3)
    assert stripe_api.session_creates[0].idempotency_key == f"checkout-{org}-0-{PRICE_ID}-3-none"


def test_weakness_one_customer_per_org_is_reused(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    """The real server passes customer_email on every checkout, so Stripe makes a new customer each time."""
    first = checkout(user, org).body
    stripe_api.expire_session(first["session_id"])
    second = checkout(user, org).body
    [created] = stripe_api.customer_creates
    customer = stripe_api.customers[billing_row(admin, org)["stripe_customer_id"]]
    assert created.idempotency_key == f"customer-{org}"
    [name] = admin.execute("SELECT name FROM agentmode.orgs WHERE id = %s", (org,)).fetchone() or [None]
    assert (customer["name"], customer["metadata"]) == (name, {"org_id": str(org)})
    assert {stripe_api.sessions[s["session_id"]]["customer"] for s in (first, second)} == {customer["id"]}


def test_an_org_with_a_customer_checks_out_as_that_customer(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    customer_id = stripe_api.add_customer()
    admin.execute("UPDATE agentmode.orgs SET stripe_customer_id = %s WHERE id = %s", (customer_id, org))
    assert checkout(user, org).status == 200
    assert stripe_api.customer_creates == []
    assert sent_params(stripe_api)["customer"] == customer_id


def test_weakness_an_open_checkout_session_is_returned_again(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    """The real server creates a new session per request (10 s idempotency buckets): two can both be paid."""
    first = checkout(user, org).body
    again = checkout(user, org).body
    assert again == {**first, "reused": True}
    assert len(stripe_api.session_creates) == 1
    assert billing_row(admin, org)["checkout_generation"] == 1


def test_an_expired_session_is_replaced_by_a_new_one(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    first = checkout(user, org).body
    stripe_api.expire_session(first["session_id"])
    second = checkout(user, org).body
    assert (second["reused"], second["session_id"] != first["session_id"]) == (False, True)
    row = billing_row(admin, org)
    assert (row["checkout_session_id"], row["checkout_generation"]) == (second["session_id"], 2)


def test_a_session_past_its_expiry_is_not_looked_up(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    checkout(user, org)
    admin.execute("UPDATE agentmode.orgs SET checkout_session_expires_at = now() - interval '1 second' WHERE id = %s", (org,))
    assert checkout(user, org).body["reused"] is False
    assert stripe_api.calls("GET", "/v1/checkout/sessions/") == []


def test_a_checkout_with_other_terms_expires_the_open_session_first(
    user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    first = checkout(user, org, quantity=2).body
    second = checkout(user, org, quantity=3).body
    assert second["reused"] is False
    assert stripe_api.sessions[first["session_id"]]["status"] == "expired"
    assert [r.path for r in stripe_api.requests if r.method == "POST" and r.path.endswith("/expire")] == [
        f"/v1/checkout/sessions/{first['session_id']}/expire"
    ]
    assert [s["status"] for s in stripe_api.sessions.values()] == ["expired", "open"]


def test_a_completed_checkout_awaiting_its_webhook_refuses_another(
    user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    """The customer paid a moment ago; the webhook that records the subscription has not arrived yet."""
    stripe_api.complete_session(checkout(user, org).body["session_id"])
    assert_error(checkout(user, org), 409, "ALREADY_SUBSCRIBED")
    assert len(stripe_api.session_creates) == 1


def test_a_completed_checkout_whose_subscription_ended_allows_a_new_one(
    user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    stripe_api.complete_session(checkout(user, org).body["session_id"], subscription_status="incomplete_expired")
    assert checkout(user, org).body["reused"] is False
    assert len(stripe_api.session_creates) == 2


@pytest.mark.parametrize("status", LIVE_STATUSES)
def test_weakness_already_subscribed_orgs_cannot_check_out_again(
    status: str, admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    """The real server refuses only active and trialing: a past-due organization could start a second subscription."""
    subscribe(admin, org, f"sub_{uuid.uuid4().hex}", status)
    assert_error(checkout(user, org), 409, "ALREADY_SUBSCRIBED")
    assert stripe_api.requests == []


def test_an_org_whose_subscription_was_cancelled_can_check_out_again(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    customer_id = stripe_api.add_customer()
    admin.execute(
        "UPDATE agentmode.orgs SET subscription_status = 'canceled', stripe_customer_id = %s WHERE id = %s", (customer_id, org)
    )
    assert checkout(user, org).status == 200


@pytest.mark.parametrize("status", [*LIVE_STATUSES, "canceled", "incomplete_expired", "paused"])
def test_live_statuses_are_the_databases(status: str, admin: psycopg.Connection[Any]) -> None:
    from opsboard_billing.org_billing import LIVE_SUBSCRIPTION_STATUSES

    live = admin.execute("SELECT agentmode.subscription_is_live(%s)", (status,)).fetchone()
    assert live == (status in LIVE_SUBSCRIPTION_STATUSES,)


def _checkout_in_thread(user: User, org: uuid.UUID, barrier: threading.Barrier, results: list[Result]) -> None:
    """One container's request: its own thread (and so its own database connection) and event loop."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        barrier.wait()
        results.append(checkout(user, org))
    finally:
        db.close_connection()
        loop.close()


def test_weakness_two_concurrent_checkouts_create_one_session(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    """Each Stripe answer takes 0.3 s, so both requests are in flight together. The real server's 10 s idempotency
    bucket gives two sessions whenever the clicks straddle a bucket's edge; here the second waits for the first's
    commit and gets its session again."""
    load_handler(function_dir("opsboard_billing"))
    stripe_api.delay = 0.3
    barrier = threading.Barrier(2)
    results: list[Result] = []
    threads = [threading.Thread(target=_checkout_in_thread, args=(user, org, barrier, results)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r.body["reused"] for r in results) == [False, True]
    assert len({r.body["session_id"] for r in results}) == 1
    assert len(stripe_api.session_creates) == 1
    assert len(stripe_api.customer_creates) == 1
    assert billing_row(admin, org)["checkout_generation"] == 1


def test_a_deployed_checkout_without_the_pinned_price_is_503_naming_it(
    user: User, org: uuid.UUID, stripe_api: StripeBillingStub, monkeypatch: pytest.MonkeyPatch, logs: LogOutput
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "prod")
    monkeypatch.setenv("STRIPE_SUBSCRIPTION_PRICE_ID", "")
    reset_function_state()
    result = checkout(user, org)
    assert_error(result, 503, "SERVICE_UNAVAILABLE")
    assert result.body["details"] == {"service": "opsboard_billing", "reason": "not configured"}
    assert [
        line
        for line in logs.lines("STRIPE_SUBSCRIPTION_PRICE_ID is not set: no checkout can be made")
        if line["level"] == "ERROR" and line["setting"] == "STRIPE_SUBSCRIPTION_PRICE_ID"
    ]
    assert stripe_api.requests == []


def test_a_deployed_checkout_without_app_url_is_503_naming_it(
    user: User, org: uuid.UUID, stripe_api: StripeBillingStub, monkeypatch: pytest.MonkeyPatch, logs: LogOutput
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "prod")
    monkeypatch.setenv("APP_URL", "")
    reset_function_state()
    assert_error(checkout(user, org), 503, "SERVICE_UNAVAILABLE")
    assert [line for line in logs.lines("APP_URL is not set: no checkout can be made") if line["setting"] == "APP_URL"]
    assert stripe_api.requests == []
