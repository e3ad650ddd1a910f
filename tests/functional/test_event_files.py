"""Every events/*.json (the `sam local invoke -e` samples) invoked on its handler against the demo seed."""

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from agentmode.clickhouse import ClickHouse
from local.devconfig import DEV_STRIPE_WEBHOOK_SECRET
from local.make_events import stripe_signature_header
from local.seed import seed_demo, seed_demo_traces
from tests.lambda_invoke import EVENTS_DIR, invoke_event, load_event
from tests.stripe_billing_stub import StripeBillingStub

EXPECTED_STATUS: dict[str, int | tuple[int, ...]] = {
    "agent_write-memory_post.json": (200, 201),
    "agent_read-memory_get.json": 200,
    "agent_start_post.json": 201,
    "agent_event_post.json": 200,
    "agent_status_get.json": 200,
    "agent_events_get.json": 200,
    # Each acts on the seed's asking session, which every test's seed restores.
    "agent_respond_post.json": 200,
    "agent_cancel_post.json": 200,
    "v4_stripe-webhook_post.json": 200,
    "v4_traces_get.json": 200,
    "v4_traces_trace_id_get.json": 200,
    "v4_meterics_project_get.json": 200,
    "v4_metrics_project_get.json": 200,
    "opsboard_users_me_get.json": 200,
    "opsboard_users_me_put.json": 200,
    "opsboard_users_update_post.json": 200,
    "opsboard_users_me_survey-complete_put.json": 200,
    "opsboard_users_complete_survey_post.json": 200,
    "opsboard_projects_get.json": 200,
    "opsboard_projects_post.json": 201,
    "opsboard_projects_project_id_get.json": 200,
    "opsboard_projects_project_id_put.json": 200,
    "opsboard_projects_project_id_update_post.json": 200,
    "opsboard_projects_project_id_delete.json": 200,
    "opsboard_projects_project_id_delete_post.json": 200,
    "opsboard_projects_project_id_regenerate-key_post.json": 200,
    "opsboard_orgs_get.json": 200,
    "opsboard_orgs_post.json": 201,
    "opsboard_orgs_create_post.json": 201,
    "opsboard_orgs_invites_get.json": 200,
    "opsboard_orgs_org_id_get.json": 200,
    "opsboard_orgs_org_id_put.json": 200,
    "opsboard_orgs_org_id_update_post.json": 200,
    "opsboard_orgs_org_id_delete.json": 200,
    # Sorted order runs the invite first, then its revoke (invites_email_delete), then the list.
    "opsboard_orgs_org_id_invite_post.json": 201,
    "opsboard_orgs_org_id_invites_email_delete.json": 200,
    "opsboard_orgs_org_id_invites_get.json": 200,
    "opsboard_orgs_org_id_accept-invite_post.json": 200,
    "opsboard_orgs_org_id_accept_post.json": 200,
    "opsboard_orgs_org_id_decline-invite_post.json": 200,
    "opsboard_orgs_org_id_leave_post.json": 200,
    "opsboard_orgs_org_id_change-role_post.json": 200,
    "opsboard_orgs_org_id_members_update_post.json": 200,
    "opsboard_orgs_org_id_remove-member_post.json": 200,
    "opsboard_orgs_org_id_members_remove_post.json": 200,
    # Billing against the Stripe stand-in: the demo organization has no subscription (only Stripe's webhook writes
    # one, after a paid checkout), so cancel and reactivate answer their documented 409; the code is unknown to Stripe.
    "opsboard_orgs_org_id_create-checkout-session_post.json": 200,
    "opsboard_orgs_org_id_validate-discount-code_post.json": 200,
    "opsboard_orgs_org_id_cancel-subscription_post.json": 409,
    "opsboard_orgs_org_id_reactivate-subscription_post.json": 409,
    # The real dashboard's billing paths: the free plan answers as it is; without a subscription there is no seat to
    # update, no member cost to preview and no detail (409); pricing and the dashboard answer any member. The portal
    # needs the organization's Stripe customer, which the checkout event (sorted before it) creates: 409 without it.
    "opsboard_orgs_org_id_create-free-subscription_post.json": 200,
    "opsboard_orgs_org_id_update-subscription_post.json": 409,
    "opsboard_orgs_org_id_customer-portal_post.json": (200, 409),
    "opsboard_orgs_org_id_subscription-detail_get.json": 409,
    "opsboard_orgs_org_id_stripe-pricing_get.json": 200,
    "opsboard_orgs_org_id_billing_dashboard_get.json": 200,
    "opsboard_orgs_org_id_preview-member-cost_get.json": 409,
}


@pytest.fixture(scope="module")
def stripe_api() -> Iterator[StripeBillingStub]:
    stub = StripeBillingStub()
    yield stub
    stub.close()


@pytest.fixture(autouse=True)
def demo_seed(
    database_url: str, clickhouse: ClickHouse, stripe_api: StripeBillingStub, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The event files carry a token signed with the local dev secret for the demo user; Stripe's API is the
    loopback stand-in, as the local stack has no Stripe of its own."""
    from local.devconfig import DEV_JWT_SECRET
    from tests.conftest import reset_function_state

    seed_demo(database_url)
    seed_demo_traces(clickhouse)
    monkeypatch.setenv("SUPABASE_JWT_SECRET", DEV_JWT_SECRET)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", DEV_STRIPE_WEBHOOK_SECRET)
    stripe_api.configure(monkeypatch)
    reset_function_state()
    yield
    monkeypatch.undo()
    reset_function_state()


def test_every_route_has_an_event_file() -> None:
    assert sorted(p.name for p in EVENTS_DIR.glob("*.json")) == sorted(EXPECTED_STATUS)


@pytest.mark.parametrize("name", sorted(EXPECTED_STATUS))
def test_event_file_is_answered(name: str, admin: psycopg.Connection[Any]) -> None:
    event = load_event(name)
    if "stripe-signature" in event["headers"]:
        event["headers"]["stripe-signature"] = stripe_signature_header(event["body"].encode(), DEV_STRIPE_WEBHOOK_SECRET)
    result = invoke_event(event)
    expected = EXPECTED_STATUS[name]
    assert result.status in (expected if isinstance(expected, tuple) else (expected,)), result.body
