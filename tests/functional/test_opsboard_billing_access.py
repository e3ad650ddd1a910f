"""/opsboard/orgs/{org_id}/ billing (seed 000): who may call the billing routes. Members below admin get 403 and
non-members 404, both before Stripe (tests.stripe_billing_stub) is called; a malformed org id is 400."""

import uuid
from typing import Any

import psycopg
import pytest

from tests.billing_support import assert_error, checkout, member, post
from tests.factories import User, create_user
from tests.stripe_billing_stub import StripeBillingStub

ROUTES = {
    "create-checkout-session": {},
    "validate-discount-code": {"discount_code": "SAVE20"},
    "cancel-subscription": {"subscription_id": "sub_any"},
    "reactivate-subscription": {},
}


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
