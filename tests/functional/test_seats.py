"""Seats of a paying organization follow its members (agentmode.seats, functions/seat_sync), against the loopback
Stripe stand-in: the quantity is recorded with the membership change and sent to Stripe after the commit."""

import uuid
from typing import Any

import psycopg
import pytest

from local.lambda_runtime import LambdaContext, load_handler
from tests.factories import User, create_user
from tests.lambda_invoke import function_dir
from tests.opsboard import call, email_of
from tests.stripe_billing_stub import StripeBillingStub

SCHEDULED_EVENT = {
    "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.scheduler",
    "account": "000000000000", "region": "us-east-1", "resources": [], "detail": {},
}  # fmt: skip


@pytest.fixture
def subscription(admin: psycopg.Connection[Any], org: uuid.UUID, stripe_api: StripeBillingStub) -> str:
    """The organization on the pro plan, as the webhook leaves it: one seat bought for its one member."""
    sub_id = stripe_api.add_subscription(f"sub_{uuid.uuid4().hex[:20]}", quantity=1)
    admin.execute(
        "UPDATE agentmode.orgs SET prem_status = 'pro', subscription_id = %s, subscription_status = 'active' WHERE id = %s",
        (sub_id, org),
    )
    return sub_id


def join(admin: psycopg.Connection[Any], owner: User, org: uuid.UUID) -> User:
    """A registered user invited in the app, accepting."""
    invitee = create_user(admin)
    assert call(owner, "POST", f"/opsboard/orgs/{org}/invite", {"email": email_of(invitee)}).status == 201
    assert call(invitee, "POST", f"/opsboard/orgs/{org}/accept-invite").status == 200
    return invitee


def seat_versions(admin: psycopg.Connection[Any], org: uuid.UUID) -> tuple[int, int]:
    row = admin.execute("SELECT seat_version, seats_synced_version FROM agentmode.orgs WHERE id = %s", (org,)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def members(admin: psycopg.Connection[Any], org: uuid.UUID) -> int:
    row = admin.execute("SELECT count(*) FROM agentmode.user_orgs WHERE org_id = %s", (org,)).fetchone()
    assert row is not None
    return int(row[0])


def run_seat_sync() -> dict[str, int]:
    handler = load_handler(function_dir("seat_sync"))
    report: dict[str, int] = handler(SCHEDULED_EVENT, LambdaContext(function_name="SeatSyncFunction", timeout_seconds=60))
    return report


def test_accepting_an_invite_sets_the_quantity_to_the_member_count(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, subscription: str, stripe_api: StripeBillingStub
) -> None:
    join(admin, user, org)
    assert stripe_api.quantity(subscription) == members(admin, org) == 2
    [update] = stripe_api.subscription_updates(subscription)
    item = stripe_api.subscriptions[subscription]["items"]["data"][0]["id"]
    assert update.params == {"items": [{"id": item, "quantity": "2"}], "proration_behavior": "create_prorations"}
    # Version 1 is the subscription's start (the webhook's write); the accept made version 2, which was sent.
    assert update.idempotency_key == f"seats-{subscription}-2"
    assert seat_versions(admin, org) == (2, 2)


def test_a_subscription_that_starts_is_billed_for_the_members_the_org_has_then(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, subscription: str, stripe_api: StripeBillingStub
) -> None:
    """Two members joined between the checkout (one seat bought) and the webhook's write."""
    admin.execute("UPDATE agentmode.orgs SET subscription_id = NULL, subscription_status = NULL WHERE id = %s", (org,))
    for _ in range(2):
        join(admin, user, org)
    assert stripe_api.subscription_updates(subscription) == []
    admin.execute(
        "UPDATE agentmode.orgs SET subscription_id = %s, subscription_status = 'active' WHERE id = %s", (subscription, org)
    )
    # Other tests' organizations may be pending too: what matters here is this one's.
    assert run_seat_sync()["synced"] >= 1
    assert stripe_api.quantity(subscription) == members(admin, org) == 3
    version, synced = seat_versions(admin, org)
    assert synced == version


def test_removing_a_member_lowers_the_quantity(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, subscription: str, stripe_api: StripeBillingStub
) -> None:
    colleague = join(admin, user, org)
    assert call(user, "POST", f"/opsboard/orgs/{org}/remove-member", {"user_id": str(colleague.id)}).status == 200
    assert stripe_api.quantity(subscription) == 1
    assert [u.idempotency_key for u in stripe_api.subscription_updates(subscription)] == [
        f"seats-{subscription}-2",
        f"seats-{subscription}-3",
    ]


def test_leaving_lowers_the_quantity(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, subscription: str, stripe_api: StripeBillingStub
) -> None:
    colleague = join(admin, user, org)
    assert call(colleague, "POST", f"/opsboard/orgs/{org}/leave").status == 200
    assert stripe_api.quantity(subscription) == 1


def test_weakness_seats_are_sent_after_the_commit_and_never_lost(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, subscription: str, stripe_api: StripeBillingStub
) -> None:
    """The real server calls Stripe before its commit, without an idempotency key, and swallows the error: with Stripe
    down the member is in and billed for nobody, for good. Here the accept stands and the change waits for seat_sync."""
    stripe_api.fail_with = 503
    invitee = create_user(admin)
    assert call(user, "POST", f"/opsboard/orgs/{org}/invite", {"email": email_of(invitee)}).status == 201
    assert call(invitee, "POST", f"/opsboard/orgs/{org}/accept-invite").status == 200
    assert members(admin, org) == 2
    assert stripe_api.quantity(subscription) == 1
    version, synced = seat_versions(admin, org)
    assert version > synced

    stripe_api.fail_with = None
    run_seat_sync()
    assert stripe_api.quantity(subscription) == 2
    [landed] = [u for u in stripe_api.subscription_updates(subscription) if u.params.get("items")]
    assert landed.idempotency_key == f"seats-{subscription}-{version}"
    assert seat_versions(admin, org) == (version, version)


def test_seat_sync_leaves_a_synced_org_alone(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, subscription: str, stripe_api: StripeBillingStub
) -> None:
    join(admin, user, org)
    run_seat_sync()
    assert len(stripe_api.subscription_updates(subscription)) == 1
    assert stripe_api.calls("GET", f"/v1/subscriptions/{subscription}")[1:] == []


def test_a_free_orgs_accept_makes_no_stripe_call(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    join(admin, user, org)
    assert stripe_api.requests == []
    assert seat_versions(admin, org) == (0, 0)
