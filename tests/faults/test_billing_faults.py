"""Stripe failing under the billing routes: down (a closed port), erroring (5xx) or throttling (429). Each answers
503 SERVICE_UNAVAILABLE with its retry hint, within the function's timeout, and leaves the organization's row as it
was: the Stripe calls run inside the request's transaction, which rolls back."""

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.factories import User
from tests.faults.conftest import Configure
from tests.faults.stubs import closed_port
from tests.faults.support import assert_unavailable, lambda_timeout, rate_limit_hits, timed
from tests.lambda_invoke import Result, invoke
from tests.opsboard import personal_org
from tests.stripe_billing_stub import StripeBillingStub

CHECKOUT = "/opsboard/orgs/{org}/create-checkout-session"


@pytest.fixture
def stripe_api(configure: Configure) -> Iterator[StripeBillingStub]:
    stub = StripeBillingStub()
    configure(**stub.environment())
    yield stub
    stub.close()


@pytest.fixture
def stripe_down(configure: Configure, stripe_api: StripeBillingStub) -> None:
    configure(**(stripe_api.environment() | {"STRIPE_API_BASE": f"http://127.0.0.1:{closed_port()}"}))


@pytest.fixture
def org(admin: psycopg.Connection[Any], user: User) -> uuid.UUID:
    return personal_org(admin, user)


@pytest.fixture
def subscription(admin: psycopg.Connection[Any], org: uuid.UUID, stripe_api: StripeBillingStub) -> str:
    sub_id = stripe_api.add_subscription(f"sub_{uuid.uuid4().hex[:20]}", cancel_at_period_end=True)
    admin.execute(
        "UPDATE agentmode.orgs SET prem_status = 'pro', subscription_id = %s, subscription_status = 'active' WHERE id = %s",
        (sub_id, org),
    )
    return sub_id


def org_row(admin: psycopg.Connection[Any], org: uuid.UUID) -> tuple[Any, ...]:
    row = admin.execute("SELECT * FROM agentmode.orgs WHERE id = %s", (org,)).fetchone()
    assert row is not None
    return tuple(row)


def post(user: User, org: uuid.UUID, route: str, body: dict[str, Any] | None = None) -> Result:
    return invoke("POST", f"/opsboard/orgs/{org}/{route}", headers=user.auth, json_body=body)


def checkout(user: User, org: uuid.UUID) -> tuple[Result, float]:
    return timed(lambda: post(user, org, "create-checkout-session", {}))


def test_stripe_down_during_checkout_is_503_and_changes_no_row(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_down: None
) -> None:
    before = org_row(admin, org)
    result, elapsed = checkout(user, org)
    assert assert_unavailable(result, "stripe")["reason"] == "unreachable"
    assert elapsed < lambda_timeout("POST", CHECKOUT.format(org=org))
    assert org_row(admin, org) == before


@pytest.mark.parametrize(("status", "reason"), [(500, "stripe api error"), (503, "stripe api error"), (429, "rate limited")])
def test_stripe_failing_during_checkout_is_503_and_changes_no_row(
    status: int, reason: str, admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    stripe_api.fail_with = status
    before = org_row(admin, org)
    result, elapsed = checkout(user, org)
    assert assert_unavailable(result, "stripe")["reason"] == reason
    assert elapsed < lambda_timeout("POST", CHECKOUT.format(org=org))
    assert org_row(admin, org) == before


def test_a_failed_session_create_records_nothing_and_the_retry_gets_the_same_customer(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    """The customer was made at Stripe before the session failed: the retry's customer key replays it."""
    stripe_api.fail_with, stripe_api.fail_paths = 503, ("/v1/checkout/sessions",)
    before = org_row(admin, org)
    assert_unavailable(checkout(user, org)[0], "stripe")
    assert org_row(admin, org) == before
    stripe_api.fail_with = None
    assert checkout(user, org)[0].status == 200
    [customer] = stripe_api.customers
    assert [r.replayed for r in stripe_api.customer_creates] == [False, True]
    recorded = admin.execute("SELECT stripe_customer_id FROM agentmode.orgs WHERE id = %s", (org,)).fetchone()
    assert recorded == (customer,)


def test_stripe_down_during_cancel_is_503_and_writes_nothing(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, subscription: str, stripe_down: None
) -> None:
    before = org_row(admin, org)
    result, elapsed = timed(lambda: post(user, org, "cancel-subscription", {"subscription_id": subscription}))
    assert_unavailable(result, "stripe")
    assert elapsed < lambda_timeout("POST", f"/opsboard/orgs/{org}/cancel-subscription")
    assert org_row(admin, org) == before


def test_a_cancel_that_failed_at_stripe_is_retried_with_the_same_key(
    user: User, org: uuid.UUID, subscription: str, stripe_api: StripeBillingStub
) -> None:
    """The action counter rolled back with the failure: the retry is the same request to Stripe, not a second one."""
    stripe_api.fail_with = 500
    assert_unavailable(post(user, org, "cancel-subscription", {"subscription_id": subscription}), "stripe")
    stripe_api.fail_with = None
    assert post(user, org, "cancel-subscription", {"subscription_id": subscription}).status == 200
    keys = {r.idempotency_key for r in stripe_api.subscription_updates(subscription)}
    assert keys == {f"cancel-{subscription}-1"}


def test_stripe_down_during_reactivate_is_503_and_writes_nothing(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, subscription: str, stripe_down: None
) -> None:
    before = org_row(admin, org)
    assert_unavailable(post(user, org, "reactivate-subscription"), "stripe")
    assert org_row(admin, org) == before


def test_stripe_down_during_validation_is_503_and_the_guess_still_counts(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_down: None
) -> None:
    """The quota is taken before Stripe is asked, so an outage cannot be used to guess codes for free."""
    assert_unavailable(post(user, org, "validate-discount-code", {"discount_code": "GUESS"}), "stripe")
    assert rate_limit_hits(admin, user.id, "discount_code") == 1
