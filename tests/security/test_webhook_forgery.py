"""Forged Stripe deliveries to POST /v4/stripe-webhook: each is 400 WEBHOOK_SIGNATURE_INVALID, calls no Stripe API
and changes no billing row.

Each forgery carries a checkout that Stripe's API (on loopback) would confirm, so a forgery that got through would make
the organization pro; the first test shows the genuine delivery does exactly that.
"""

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests import stripe_stub
from tests.conftest import reset_function_state
from tests.lambda_invoke import event_for, invoke, invoke_event
from tests.security.conftest import WEBHOOK_SECRET
from tests.security.support import (
    BILLING_TABLES,
    changed_tables,
    fingerprint,
    scalar,
)

PATH = "/v4/stripe-webhook"
Forgery = Callable[[bytes], tuple[dict[str, str], bytes]]


def v1(secret: str, timestamp: int, payload: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()


def now() -> int:
    return int(time.time())


def signed(raw: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> dict[str, str]:
    return {"stripe-signature": stripe_stub.sign(raw, secret, timestamp)}


def tampered(raw: bytes) -> bytes:
    """The same event for another organization: the attacker's."""
    event = json.loads(raw)
    event["data"]["object"]["client_reference_id"] = str(uuid.uuid4())
    return json.dumps(event).encode()


FORGERIES: dict[str, Forgery] = {
    "no_signature_header": lambda raw: ({}, raw),
    "empty_signature_header": lambda raw: ({"stripe-signature": ""}, raw),
    "garbled_signature_header": lambda raw: ({"stripe-signature": "t=abc,v1=zzz"}, raw),
    "timestamp_only": lambda raw: ({"stripe-signature": f"t={now()}"}, raw),
    "signature_without_timestamp": lambda raw: ({"stripe-signature": f"v1={v1(WEBHOOK_SECRET, now(), raw)}"}, raw),
    "only_the_v0_test_scheme": lambda raw: ({"stripe-signature": f"t={now()},v0={v1(WEBHOOK_SECRET, now(), raw)}"}, raw),
    "timestamp_older_than_five_minutes": lambda raw: (signed(raw, timestamp=now() - 301), raw),
    "timestamp_zero": lambda raw: (signed(raw, timestamp=0), raw),
    "wrong_secret": lambda raw: (signed(raw, "whsec_someone_elses_endpoint"), raw),
    "empty_secret": lambda raw: (signed(raw, ""), raw),
    "plain_sha256_of_the_body": lambda raw: ({"stripe-signature": f"t={now()},v1={hashlib.sha256(raw).hexdigest()}"}, raw),
    "uppercase_hex_signature": lambda raw: ({"stripe-signature": f"t={now()},v1={v1(WEBHOOK_SECRET, now(), raw).upper()}"}, raw),
    "replayed_signature_with_a_modified_body": lambda raw: (signed(raw), tampered(raw)),
    "replayed_signature_with_a_reencoded_body": lambda raw: (signed(raw), json.dumps(json.loads(raw), indent=1).encode()),
    "replayed_signature_with_a_trailing_newline": lambda raw: (signed(raw), raw + b"\n"),
    "old_signature_with_a_fresh_timestamp": lambda raw: (
        {"stripe-signature": f"t={now()},v1={v1(WEBHOOK_SECRET, now() - 3600, raw)}"},
        raw,
    ),
    "signature_for_another_timestamp_in_the_header": lambda raw: (
        {"stripe-signature": f"t={now() - 10},v1={v1(WEBHOOK_SECRET, now(), raw)}"},
        raw,
    ),
    "many_wrong_signatures": lambda raw: (
        {"stripe-signature": f"t={now()}," + ",".join(f"v1={'0' * 63}{i % 10}" for i in range(1000))},
        raw,
    ),
    "non_utf8_body": lambda raw: (signed(raw), raw.replace(b'"paid"', b'"p\xffid"')),
}


@pytest.fixture
def org(admin: psycopg.Connection[Any]) -> uuid.UUID:
    org_id: uuid.UUID = scalar(admin, "INSERT INTO agentmode.orgs (name) VALUES ('Forgery target') RETURNING id")
    return org_id


@pytest.fixture
def checkout(webhook: stripe_stub.StripeApiStub, org: uuid.UUID) -> bytes:
    """A checkout of the pro plan for `org` that Stripe's API confirms: genuine except for its signature."""
    sub_id, customer = f"sub_{uuid.uuid4().hex[:14]}", f"cus_{org.hex[:14]}"
    session = stripe_stub.checkout_session(f"cs_{uuid.uuid4().hex[:12]}", str(org), sub_id, customer)
    webhook.add_checkout(session, stripe_stub.subscription(sub_id, customer=customer))
    return json.dumps(stripe_stub.event("checkout.session.completed", session)).encode()


def plan_of(admin: psycopg.Connection[Any], org: uuid.UUID) -> str:
    plan: str = scalar(admin, "SELECT agentmode.org_effective_plan(o) FROM agentmode.orgs o WHERE id = %s", (org,))
    return plan


def test_the_genuine_delivery_makes_the_organization_pro(
    admin: psycopg.Connection[Any], webhook: stripe_stub.StripeApiStub, org: uuid.UUID, checkout: bytes
) -> None:
    result = invoke("POST", PATH, headers=signed(checkout), raw_body=checkout)

    assert (result.status, result.body["outcome"], plan_of(admin, org)) == (200, "applied", "pro")


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_delivery_is_400_and_changes_no_billing_row(
    admin: psycopg.Connection[Any], webhook: stripe_stub.StripeApiStub, org: uuid.UUID, checkout: bytes, forgery: str
) -> None:
    headers, body = FORGERIES[forgery](checkout)
    event = event_for("POST", PATH, headers={"content-type": "application/octet-stream", **headers}, body=body)
    before = fingerprint(admin, tables=BILLING_TABLES)

    result = invoke_event(event)

    assert (result.status, result.body["error_code"]) == (400, "WEBHOOK_SIGNATURE_INVALID")
    assert changed_tables(before, fingerprint(admin, tables=BILLING_TABLES)) == []
    assert webhook.requests == [], "Stripe's API was called for an unverified event"
    assert plan_of(admin, org) == "free"
    assert WEBHOOK_SECRET not in json.dumps(result.body)


def test_a_forged_delivery_after_a_genuine_one_changes_nothing_more(
    admin: psycopg.Connection[Any], webhook: stripe_stub.StripeApiStub, org: uuid.UUID, checkout: bytes
) -> None:
    """Replaying the genuine signature with a body that cancels: the organization stays pro."""
    assert invoke("POST", PATH, headers=signed(checkout), raw_body=checkout).status == 200
    event = json.loads(checkout)
    cancel = stripe_stub.event(
        "customer.subscription.deleted",
        stripe_stub.subscription(event["data"]["object"]["subscription"], "canceled", customer=f"cus_{org.hex[:14]}"),
    )
    before = fingerprint(admin, tables=BILLING_TABLES)

    result = invoke("POST", PATH, headers=signed(checkout), raw_body=json.dumps(cancel).encode())

    assert (result.status, result.body["error_code"]) == (400, "WEBHOOK_SIGNATURE_INVALID")
    assert changed_tables(before, fingerprint(admin, tables=BILLING_TABLES)) == []
    assert plan_of(admin, org) == "pro"


def test_without_a_configured_secret_nothing_is_accepted(
    admin: psycopg.Connection[Any],
    webhook: stripe_stub.StripeApiStub,
    org: uuid.UUID,
    checkout: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An empty secret must not verify signatures made with an empty key: the webhook answers 503 until configured."""
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "")
    reset_function_state()
    before = fingerprint(admin, tables=BILLING_TABLES)

    result = invoke("POST", PATH, headers=signed(checkout, ""), raw_body=checkout)

    assert (result.status, result.body["error_code"]) == (503, "SERVICE_UNAVAILABLE")
    assert changed_tables(before, fingerprint(admin, tables=BILLING_TABLES)) == []
    assert plan_of(admin, org) == "free"
