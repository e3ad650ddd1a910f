"""What the /opsboard billing tests share (tests/functional/test_opsboard_billing_*.py): calling a billing route as a
member, reading the organization's billing columns, arranging a subscription as the webhook leaves it, and the
refusal check. The `org` and `stripe_api` fixtures are in tests/functional/conftest.py."""

import uuid
from typing import Any

import psycopg

from tests.factories import User, create_user
from tests.lambda_invoke import Result, invoke
from tests.opsboard import add_member
from tests.stripe_billing_stub import StripeBillingStub


def post(actor: User, org: uuid.UUID | str, route: str, body: dict[str, Any] | None = None, key: str | None = None) -> Result:
    headers = actor.auth | ({"idempotency-key": key} if key is not None else {})
    return invoke("POST", f"/opsboard/orgs/{org}/{route}", headers=headers, json_body=body)


def checkout(actor: User, org: uuid.UUID, **body: Any) -> Result:
    return post(actor, org, "create-checkout-session", body)


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


def sent_params(stub: StripeBillingStub) -> dict[str, Any]:
    [create] = stub.session_creates
    return create.params


def assert_error(result: Result, status: int, code: str) -> None:
    assert (result.status, result.body["error_code"]) == (status, code), result.body
