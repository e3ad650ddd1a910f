"""/opsboard/orgs/{org_id}/ billing (seed 000): discount codes, applied at checkout and checked by
validate-discount-code: promotion codes and their restrictions, coupons as the fallback, malformed codes and the rate
limit on guesses, against the loopback Stripe stand-in (tests.stripe_billing_stub)."""

import json
import time
import uuid
from typing import Any

import psycopg
import pytest

from tests.billing_support import assert_error, checkout, post, sent_params
from tests.factories import User
from tests.lambda_invoke import Result
from tests.stripe_billing_stub import ERROR_DETAIL, PRODUCT_ID, StripeBillingStub


def validate(actor: User, org: uuid.UUID, code: str, **body: Any) -> Result:
    return post(actor, org, "validate-discount-code", {"discount_code": code, **body})


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
