"""/opsboard/orgs/{org_id}/ billing (seed 000): checkout, discount codes, cancel and reactivate, against the loopback
Stripe stand-in (tests.stripe_billing_stub), which records every request Stripe would have received."""

import asyncio
import json
import re
import threading
import time
import uuid
from typing import Any

import psycopg
import pytest

from agentmode import db
from local.lambda_runtime import load_handler
from tests.conftest import reset_function_state
from tests.factories import User, create_user
from tests.lambda_invoke import Result, function_dir, invoke
from tests.log_capture import LogOutput
from tests.opsboard import add_member, personal_org
from tests.stripe_billing_stub import API_KEY, APP_URL, ERROR_DETAIL, PRICE_ID, PRODUCT_ID, StripeBillingStub

ROUTES = {
    "create-checkout-session": {},
    "validate-discount-code": {"discount_code": "SAVE20"},
    "cancel-subscription": {"subscription_id": "sub_any"},
    "reactivate-subscription": {},
}
LIVE_STATUSES = ["active", "trialing", "past_due", "unpaid", "incomplete"]
STRIPE_STATUSES = [*LIVE_STATUSES, "incomplete_expired", "canceled", "paused"]


def post(actor: User, org: uuid.UUID | str, route: str, body: dict[str, Any] | None = None, key: str | None = None) -> Result:
    headers = actor.auth | ({"idempotency-key": key} if key is not None else {})
    return invoke("POST", f"/opsboard/orgs/{org}/{route}", headers=headers, json_body=body)


def checkout(actor: User, org: uuid.UUID, **body: Any) -> Result:
    return post(actor, org, "create-checkout-session", body)


def validate(actor: User, org: uuid.UUID, code: str, **body: Any) -> Result:
    return post(actor, org, "validate-discount-code", {"discount_code": code, **body})


def member(admin: psycopg.Connection[Any], org: uuid.UUID, role: str) -> User:
    someone = create_user(admin)
    add_member(admin, org, someone, role)
    return someone


def billing_row(admin: psycopg.Connection[Any], org: uuid.UUID) -> dict[str, Any]:
    cursor = admin.execute(
        "SELECT stripe_customer_id, checkout_session_id, checkout_generation, billing_action_seq, subscription_id,"
        " subscription_status, subscription_cancel_at_period_end, prem_status FROM agentmode.orgs WHERE id = %s",
        (org,),
    )
    names = [column.name for column in cursor.description or []]
    row = cursor.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


def subscribe(admin: psycopg.Connection[Any], org: uuid.UUID, sub_id: str, status: str = "active") -> None:
    """The organization as the webhook leaves it after a checkout."""
    admin.execute(
        "UPDATE agentmode.orgs SET prem_status = 'pro', subscription_id = %s, subscription_status = %s,"
        " stripe_customer_id = 'cus_existing' WHERE id = %s",
        (sub_id, status, org),
    )


def unknown_subscription() -> str:
    """A subscription id Stripe has no (more): deleted there, or never made."""
    return f"sub_gone_{uuid.uuid4().hex[:16]}"


def sent_params(stub: StripeBillingStub) -> dict[str, Any]:
    [create] = stub.session_creates
    return create.params


def assert_error(result: Result, status: int, code: str) -> None:
    assert (result.status, result.body["error_code"]) == (status, code), result.body


# --- who may --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("role", ["developer", "business_user"])
def test_members_below_admin_get_403_and_stripe_is_not_called(
    route: str, role: str, admin: psycopg.Connection[Any], org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    result = post(member(admin, org, role), org, route, ROUTES[route])
    assert_error(result, 403, "ROLE_NOT_ALLOWED")
    assert stripe_api.requests == []


@pytest.mark.parametrize("route", ROUTES)
def test_a_non_member_gets_404_and_stripe_is_not_called(
    route: str, admin: psycopg.Connection[Any], org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    result = post(create_user(admin), org, route, ROUTES[route])
    assert_error(result, 404, "NOT_FOUND")
    assert stripe_api.requests == []


@pytest.mark.parametrize("route", ROUTES)
def test_a_malformed_org_id_is_400(route: str, user: User, stripe_api: StripeBillingStub) -> None:
    assert_error(post(user, "not-a-uuid", route, ROUTES[route]), 400, "VALIDATION_ERROR")


def test_an_admin_may_check_out(admin: psycopg.Connection[Any], org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    assert checkout(member(admin, org, "admin"), org).status == 200


# --- checkout --------------------------------------------------------------------------------------------------------


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


# --- discount codes --------------------------------------------------------------------------------------------------


def test_a_promotion_code_is_applied_by_its_id(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    stripe_api.add_coupon("coupon_20", percent_off=20)
    promo = stripe_api.add_promotion_code("SAVE20", "coupon_20")
    assert checkout(user, org, discount_code="save20").status == 200
    params = sent_params(stripe_api)
    assert params["discounts"] == [{"promotion_code": promo}]
    assert params["metadata"]["discount_code"] == "save20"


RESTRICTED: dict[str, dict[str, Any]] = {
    "inactive": {"active": False},
    "expired": {"expires_at": int(time.time()) - 60},
    "exhausted": {"max_redemptions": 5, "times_redeemed": 5},
    "first-time only, and the org had a subscription": {"first_time_transaction": True},
    "minimum amount above the order": {"minimum_amount": 4001, "minimum_amount_currency": "usd"},
    "minimum amount in another currency only": {"minimum_amount": 100, "minimum_amount_currency": "eur"},
    "another customer's code": {"customer": "cus_someone_else"},
}


@pytest.mark.parametrize("restriction", RESTRICTED)
def test_weakness_discount_codes_honour_promotion_restrictions(
    restriction: str, admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    """The real server applies any promotion code Stripe lists as active, and validates it as such."""
    admin.execute("UPDATE agentmode.orgs SET subscription_status = 'canceled' WHERE id = %s", (org,))
    stripe_api.add_coupon("coupon_half", percent_off=50)
    stripe_api.add_promotion_code("HALF", "coupon_half", **RESTRICTED[restriction])
    assert_error(checkout(user, org, discount_code="HALF"), 400, "DISCOUNT_CODE_INVALID")
    assert validate(user, org, "HALF").body["valid"] is False
    assert stripe_api.session_creates == []


@pytest.mark.parametrize(
    "coupon",
    [
        {"percent_off": 10, "valid": False},
        {"percent_off": 10, "products": ["prod_another_plan"]},
        {"amount_off": 500, "currency": "eur"},
    ],
    ids=["invalid coupon", "coupon for another product", "amount in another currency"],
)  # fmt: skip
def test_a_promotion_codes_coupon_must_fit_the_plan(
    coupon: dict[str, Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    stripe_api.add_coupon("coupon_fit", **coupon)
    stripe_api.add_promotion_code("FIT", "coupon_fit")
    assert_error(checkout(user, org, discount_code="FIT"), 400, "DISCOUNT_CODE_INVALID")
    assert stripe_api.session_creates == []


def test_a_minimum_amount_is_met_by_enough_seats(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    stripe_api.add_coupon("coupon_bulk", percent_off=15)
    stripe_api.add_promotion_code("BULK", "coupon_bulk", minimum_amount=12000, minimum_amount_currency="usd")
    assert_error(checkout(user, org, discount_code="BULK", quantity=2), 400, "DISCOUNT_CODE_INVALID")
    assert checkout(user, org, discount_code="BULK", quantity=3).status == 200


def test_a_first_time_code_still_fits_an_org_whose_only_checkout_was_abandoned(
    user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    """The abandoned checkout left a Stripe customer without any payment: Stripe itself would honour the code."""
    stripe_api.expire_session(checkout(user, org).body["session_id"])
    stripe_api.add_coupon("coupon_welcome", percent_off=30)
    stripe_api.add_promotion_code("WELCOME", "coupon_welcome", first_time_transaction=True)
    assert checkout(user, org, discount_code="WELCOME").status == 200


def test_a_code_for_the_plans_product_applies(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    stripe_api.add_coupon("coupon_pro", percent_off=10, products=[PRODUCT_ID])
    stripe_api.add_promotion_code("PRO10", "coupon_pro")
    assert checkout(user, org, discount_code="PRO10").status == 200


def test_a_coupon_id_is_the_fallback(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    stripe_api.add_coupon("FRIENDS", amount_off=1000, currency="usd")
    assert checkout(user, org, discount_code="FRIENDS").status == 200
    assert sent_params(stripe_api)["discounts"] == [{"coupon": "FRIENDS"}]


def test_an_invalid_coupon_is_refused(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    stripe_api.add_coupon("SPENT", percent_off=10, valid=False)
    assert_error(checkout(user, org, discount_code="SPENT"), 400, "DISCOUNT_CODE_INVALID")


def test_a_restricted_promotion_code_never_falls_back_to_its_coupon(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    """Coupons are often named like their code: the coupon alone would shed the promotion code's restrictions."""
    stripe_api.add_coupon("LAUNCH", percent_off=40)
    stripe_api.add_promotion_code("LAUNCH", "LAUNCH", max_redemptions=1, times_redeemed=1)
    assert_error(checkout(user, org, discount_code="LAUNCH"), 400, "DISCOUNT_CODE_INVALID")
    assert stripe_api.calls("GET", "/v1/coupons/LAUNCH") == []


def test_an_unknown_code_is_400_with_its_own_code(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    result = checkout(user, org, discount_code="NOPE")
    assert_error(result, 400, "DISCOUNT_CODE_INVALID")
    assert ERROR_DETAIL not in json.dumps(result.body)


@pytest.mark.parametrize("code", ["", "x" * 65, "two words", "a/b", "caf\u00e9", "50%"])
def test_a_malformed_discount_code_is_400_without_a_stripe_call(
    code: str, user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    for result in (checkout(user, org, discount_code=code), validate(user, org, code)):
        assert_error(result, 400, "VALIDATION_ERROR")
        assert [e["field"] for e in result.body["details"]["errors"]] == ["body.discount_code"]
    assert stripe_api.requests == []


def test_validate_an_unknown_code_is_200_not_valid(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    result = validate(user, org, "NOPE")
    assert result.status == 200
    assert result.body == {
        "valid": False, "discount_type": None, "discount_value": None, "discount_description": None, "currency": None,
        "is_100_percent_off": False,
    }  # fmt: skip


def test_validate_a_percent_promotion_code(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    stripe_api.add_coupon("coupon_20", percent_off=20)
    stripe_api.add_promotion_code("SAVE20", "coupon_20")
    assert validate(user, org, "SAVE20").body == {
        "valid": True, "discount_type": "percent", "discount_value": 20.0, "discount_description": "20% off forever",
        "currency": None, "is_100_percent_off": False,
    }  # fmt: skip


def test_validate_an_amount_coupon(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    stripe_api.add_coupon("FIVE", amount_off=500, currency="usd", duration="repeating", duration_in_months=3)
    assert validate(user, org, "FIVE").body == {
        "valid": True, "discount_type": "amount", "discount_value": 500.0, "discount_description": "5.00 USD off for 3 months",
        "currency": "usd", "is_100_percent_off": False,
    }  # fmt: skip


def test_validate_a_100_percent_code_says_so(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    stripe_api.add_coupon("coupon_free", percent_off=100, duration="once")
    stripe_api.add_promotion_code("FREEMONTH", "coupon_free")
    body = validate(user, org, "FREEMONTH").body
    assert (body["is_100_percent_off"], body["discount_description"]) == (True, "100% off on the first invoice")


def test_validate_judges_the_minimum_against_the_seats_asked_for(
    user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    stripe_api.add_coupon("coupon_team", percent_off=10)
    stripe_api.add_promotion_code("TEAM", "coupon_team", minimum_amount=20000, minimum_amount_currency="usd")
    assert validate(user, org, "TEAM").body["valid"] is False
    assert validate(user, org, "TEAM", quantity=5).body["valid"] is True


def test_weakness_discount_validation_is_rate_limited(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    """The real server answers every guess (20 an hour here): a script could enumerate codes."""
    for _ in range(20):
        assert validate(user, org, "GUESS").status == 200
    calls = len(stripe_api.requests)
    refused = validate(user, org, "GUESS")
    assert_error(refused, 429, "RATE_LIMIT_EXCEEDED")
    assert refused.body["details"]["action"] == "discount_code"
    assert int(refused.headers["retry-after"]) > 0
    assert len(stripe_api.requests) == calls


def test_checkout_codes_count_against_the_same_quota(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    admin.execute(
        "INSERT INTO agentmode.rate_limit_hits (user_id, action) SELECT %s, 'discount_code' FROM generate_series(1, 20)",
        (user.id,),
    )
    assert_error(checkout(user, org, discount_code="GUESS"), 429, "RATE_LIMIT_EXCEEDED")
    assert stripe_api.requests == []
    assert checkout(user, org).status == 200


# --- cancel and reactivate -------------------------------------------------------------------------------------------


@pytest.fixture
def subscription(admin: psycopg.Connection[Any], org: uuid.UUID, stripe_api: StripeBillingStub) -> str:
    sub_id = stripe_api.add_subscription(f"sub_{uuid.uuid4().hex[:20]}", customer="cus_existing")
    subscribe(admin, org, sub_id)
    return sub_id


def cancel(actor: User, org: uuid.UUID, sub_id: str, key: str | None = None) -> Result:
    return post(actor, org, "cancel-subscription", {"subscription_id": sub_id}, key)


def reactivate(actor: User, org: uuid.UUID, body: dict[str, Any] | None = None, key: str | None = None) -> Result:
    return post(actor, org, "reactivate-subscription", body, key)


def test_cancel_sets_the_subscription_to_end_with_its_period(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, subscription: str, stripe_api: StripeBillingStub
) -> None:
    before = billing_row(admin, org)
    result = cancel(user, org, subscription)
    assert (result.status, result.body["success"]) == (200, True)
    assert [r.params for r in stripe_api.subscription_updates(subscription)] == [{"cancel_at_period_end": "true"}]
    assert stripe_api.subscriptions[subscription]["cancel_at_period_end"] is True
    assert billing_row(admin, org) == {**before, "billing_action_seq": before["billing_action_seq"] + 1}


def test_cancel_without_a_subscription_is_409(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    assert_error(cancel(user, org, "sub_whatever"), 409, "NO_SUBSCRIPTION")
    assert stripe_api.requests == []


def test_cancel_of_another_subscription_is_409(
    user: User, org: uuid.UUID, subscription: str, stripe_api: StripeBillingStub
) -> None:
    assert_error(cancel(user, org, "sub_of_someone_else"), 409, "SUBSCRIPTION_MISMATCH")
    assert stripe_api.requests == []


def test_weakness_cancel_idempotency_keys_come_from_the_request_or_state(
    user: User, org: uuid.UUID, subscription: str, stripe_api: StripeBillingStub
) -> None:
    """The real server keys cancel/reactivate by the second (`cancel_{org}_{sub}_{epoch}`): a retry a second later is a
    new request to Stripe, and two different requests within one second are taken as one."""
    cancel(user, org, subscription, key="click-1")
    cancel(user, org, subscription, key="click-1")
    cancel(user, org, subscription)
    cancel(user, org, subscription)
    keys = [r.idempotency_key for r in stripe_api.subscription_updates(subscription)]
    assert keys == [f"cancel-{org}-click-1", f"cancel-{org}-click-1", f"cancel-{subscription}-1", f"cancel-{subscription}-2"]
    assert [r.replayed for r in stripe_api.subscription_updates(subscription)] == [False, True, False, False]


def test_an_unusable_idempotency_key_is_400(user: User, org: uuid.UUID, subscription: str, stripe_api: StripeBillingStub) -> None:
    for key in ("k" * 201, "two words"):
        assert_error(cancel(user, org, subscription, key=key), 400, "VALIDATION_ERROR")
    assert stripe_api.requests == []


def test_a_subscription_stripe_no_longer_has_is_409_billing_refused(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    gone = unknown_subscription()
    subscribe(admin, org, gone)
    result = cancel(user, org, gone)
    assert_error(result, 409, "BILLING_REFUSED")
    assert result.body["details"] == {"service": "stripe", "reason": "resource_missing"}


def test_weakness_stripe_error_text_never_reaches_the_client(
    admin: psycopg.Connection[Any],
    user: User,
    other_user: User,
    org: uuid.UUID,
    stripe_api: StripeBillingStub,
    logs: LogOutput,
) -> None:
    """The real server answers `Stripe error: {e}` (and logs it): Stripe's message names accounts and objects."""
    gone = unknown_subscription()
    subscribe(admin, org, gone)
    refused = cancel(user, org, gone)
    stripe_api.fail_with = 503
    unavailable = checkout(other_user, personal_org(admin, other_user))
    for result in (refused, unavailable):
        assert result.status in (409, 503)
        assert ERROR_DETAIL not in json.dumps(result.body)
        assert "No such" not in json.dumps(result.body)
    assert ERROR_DETAIL not in logs.text()
    assert "No such" not in logs.text()


def test_reactivate_undoes_a_cancel(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, subscription: str, stripe_api: StripeBillingStub
) -> None:
    cancel(user, org, subscription)
    result = reactivate(user, org)
    assert (result.status, result.body["success"]) == (200, True)
    updates = stripe_api.subscription_updates(subscription)
    assert [(r.params, r.idempotency_key) for r in updates][-1] == (
        {"cancel_at_period_end": "false"},
        f"reactivate-{subscription}-2",
    )
    assert stripe_api.subscriptions[subscription]["cancel_at_period_end"] is False


def test_reactivate_reads_stripes_state_not_the_webhooks_copy(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, subscription: str, stripe_api: StripeBillingStub
) -> None:
    """The cancel reached Stripe a moment ago; its webhook has not come back (the row still says not cancelling)."""
    stripe_api.subscriptions[subscription]["cancel_at_period_end"] = True
    assert reactivate(user, org, {"subscription_id": subscription}).status == 200


def test_reactivating_a_subscription_not_set_to_cancel_is_409(
    user: User, org: uuid.UUID, subscription: str, stripe_api: StripeBillingStub
) -> None:
    assert_error(reactivate(user, org), 409, "NOT_CANCELLING")
    assert stripe_api.subscription_updates(subscription) == []


def test_reactivating_another_subscription_is_409(
    user: User, org: uuid.UUID, subscription: str, stripe_api: StripeBillingStub
) -> None:
    assert_error(reactivate(user, org, {"subscription_id": "sub_of_someone_else"}), 409, "SUBSCRIPTION_MISMATCH")
    assert stripe_api.requests == []


def test_reactivate_without_a_subscription_is_409(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    assert_error(reactivate(user, org), 409, "NO_SUBSCRIPTION")
