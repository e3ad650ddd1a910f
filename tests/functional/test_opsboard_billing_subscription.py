"""/opsboard/orgs/{org_id}/cancel-subscription and reactivate-subscription (seed 000): cancelling at the period's end
and undoing it, the subscription checks, idempotency keys, and Stripe's refusals and error text kept from the client,
against the loopback Stripe stand-in (tests.stripe_billing_stub)."""

import json
import uuid
from typing import Any

import psycopg
import pytest

from tests.billing_support import assert_error, billing_row, checkout, post, subscribe
from tests.factories import User
from tests.lambda_invoke import Result
from tests.log_capture import LogOutput
from tests.opsboard import personal_org
from tests.stripe_billing_stub import ERROR_DETAIL, StripeBillingStub


def unknown_subscription() -> str:
    """A subscription id Stripe has no (more): deleted there, or never made."""
    return f"sub_gone_{uuid.uuid4().hex[:16]}"


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
