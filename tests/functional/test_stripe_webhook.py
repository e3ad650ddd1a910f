"""POST /v4/stripe-webhook through its handler: verified, exactly once, in order, nothing lost (seed 000 billing)."""

import asyncio
import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

import stripe_webhook.billing as billing
from local.apigw_event import build_event
from tests import stripe_stub
from tests.conftest import reset_function_state
from tests.factories import create_user
from tests.lambda_invoke import Result, invoke, invoke_event

SECRET = "whsec_test_secret_for_the_webhook"
PATH = "/v4/stripe-webhook"


@pytest.fixture(scope="module")
def stripe_server() -> Iterator[stripe_stub.StripeApiStub]:
    stub = stripe_stub.StripeApiStub()
    yield stub
    stub.close()


@pytest.fixture
def stripe_api(stripe_server: stripe_stub.StripeApiStub, monkeypatch: pytest.MonkeyPatch) -> Iterator[stripe_stub.StripeApiStub]:
    stripe_server.configure(monkeypatch, SECRET)
    reset_function_state()
    yield stripe_server
    monkeypatch.undo()
    reset_function_state()


@pytest.fixture
def org(admin: psycopg.Connection[Any]) -> uuid.UUID:
    return admin.execute("INSERT INTO agentmode.orgs (name) VALUES ('Acme') RETURNING id").fetchone()[0]


def deliver(payload: dict[str, Any], *, secret: str = SECRET, timestamp: int | None = None, body: bytes | None = None) -> Result:
    raw = body if body is not None else json.dumps(payload).encode()
    signed = json.dumps(payload).encode() if body is not None else raw
    headers = {"stripe-signature": stripe_stub.sign(signed, secret, timestamp)}
    return invoke("POST", PATH, headers=headers, raw_body=raw)


def org_row(admin: psycopg.Connection[Any], org_id: uuid.UUID) -> dict[str, Any]:
    cursor = admin.execute("SELECT * FROM agentmode.orgs WHERE id = %s", (org_id,))
    names = [c.name for c in cursor.description or []]
    return dict(zip(names, cursor.fetchone(), strict=True))


def claimed(admin: psycopg.Connection[Any], event_id: str) -> list[tuple[Any, ...]]:
    return admin.execute("SELECT id, outcome FROM agentmode.stripe_events WHERE id = %s", (event_id,)).fetchall()


def customer_of(org_id: uuid.UUID) -> str:
    return f"cus_{org_id.hex[:14]}"


def checkout(
    stub: stripe_stub.StripeApiStub, org_id: uuid.UUID, sub_id: str, created: int, status: str = "active", **kw: Any
) -> dict[str, Any]:
    session = stripe_stub.checkout_session(f"cs_{uuid.uuid4().hex[:12]}", str(org_id), sub_id, customer_of(org_id))
    stub.add_checkout(session, stripe_stub.subscription(sub_id, status, customer=customer_of(org_id)), **kw)
    return stripe_stub.event("checkout.session.completed", session, created)


def sub_event(kind: str, sub_id: str, created: int, status: str = "active", *, org: uuid.UUID, **kw: Any) -> dict[str, Any]:
    subscription = stripe_stub.subscription(sub_id, status, customer=customer_of(org), **kw)
    return stripe_stub.event(f"customer.subscription.{kind}", subscription, created)


@pytest.fixture
def sub() -> str:
    return f"sub_{uuid.uuid4().hex[:14]}"


def test_checkout_makes_the_org_pro_with_subscription_and_period_end(
    admin: psycopg.Connection[Any], stripe_api: stripe_stub.StripeApiStub, org: uuid.UUID, sub: str
) -> None:
    payload = checkout(stripe_api, org, sub, created=1000)
    result = deliver(payload)
    assert (result.status, result.body["outcome"]) == (200, "applied")
    row = org_row(admin, org)
    assert (row["prem_status"], row["subscription_id"], row["subscription_end_date"], row["stripe_customer_id"]) == (
        "pro", sub, stripe_stub.PERIOD_END, customer_of(org),
    )  # fmt: skip
    assert claimed(admin, payload["id"]) == [(payload["id"], "applied")]
    assert any(path.startswith(f"/v1/checkout/sessions/{payload['data']['object']['id']}") for path in stripe_api.requests)


def test_checkout_falls_back_to_metadata_org_id(
    admin: psycopg.Connection[Any], stripe_api: stripe_stub.StripeApiStub, org: uuid.UUID, sub: str
) -> None:
    payload = checkout(stripe_api, org, sub, created=1000)
    session = payload["data"]["object"]
    session["client_reference_id"], session["metadata"] = None, {"org_id": str(org)}
    stripe_api.add_checkout(session, stripe_stub.subscription(sub, customer=customer_of(org)))
    assert deliver(payload).body["outcome"] == "applied"
    assert org_row(admin, org)["prem_status"] == "pro"


def test_checkout_for_another_price_is_ignored(
    admin: psycopg.Connection[Any], stripe_api: stripe_stub.StripeApiStub, org: uuid.UUID, sub: str
) -> None:
    payload = checkout(stripe_api, org, sub, created=1000, price_id="price_someone_else")
    assert deliver(payload).body["outcome"] == "ignored_price"
    assert org_row(admin, org)["prem_status"] == "free"


@pytest.mark.parametrize(
    ("status", "plan"),
    [
        ("active", "pro"),
        ("trialing", "pro"),
        ("past_due", "pro"),
        ("unpaid", "pro"),
        ("canceled", "free"),
        ("incomplete_expired", "free"),
    ],
)
def test_subscription_status_maps_to_the_plan(
    admin: psycopg.Connection[Any], stripe_api: stripe_stub.StripeApiStub, org: uuid.UUID, status: str, plan: str, sub: str
) -> None:
    deliver(checkout(stripe_api, org, sub, created=1000))
    assert deliver(sub_event("updated", sub, int(time.time()), status, org=org)).body["outcome"] == "applied"
    row = org_row(admin, org)
    assert row["subscription_status"] == status
    effective = admin.execute("SELECT agentmode.org_effective_plan(o) FROM agentmode.orgs o WHERE id = %s", (org,)).fetchone()[0]
    assert effective == plan


def test_past_due_stays_pro_for_the_grace_period_then_is_free(
    admin: psycopg.Connection[Any], stripe_api: stripe_stub.StripeApiStub, org: uuid.UUID, sub: str
) -> None:
    deliver(checkout(stripe_api, org, sub, created=1000))
    deliver(sub_event("updated", sub, int(time.time()), "past_due", org=org))
    plan = "SELECT agentmode.org_effective_plan(o) FROM agentmode.orgs o WHERE id = %s"
    assert admin.execute(plan, (org,)).fetchone()[0] == "pro"
    admin.execute("UPDATE agentmode.orgs SET past_due_since = now() - interval '8 days' WHERE id = %s", (org,))
    assert admin.execute(plan, (org,)).fetchone()[0] == "free"


def test_cancel_at_period_end_and_period_end_are_stored(
    admin: psycopg.Connection[Any], stripe_api: stripe_stub.StripeApiStub, org: uuid.UUID, sub: str
) -> None:
    deliver(checkout(stripe_api, org, sub, created=1000))
    deliver(sub_event("updated", sub, 2000, cancel_at_period_end=True, period_end=1_900_000_000, org=org))
    row = org_row(admin, org)
    assert (row["subscription_cancel_at_period_end"], row["subscription_end_date"], row["prem_status"]) == (
        True,
        1_900_000_000,
        "pro",
    )


def test_subscription_deleted_downgrades_and_clears(
    admin: psycopg.Connection[Any], stripe_api: stripe_stub.StripeApiStub, org: uuid.UUID, sub: str
) -> None:
    deliver(checkout(stripe_api, org, sub, created=1000))
    assert deliver(sub_event("deleted", sub, 2000, "canceled", org=org)).body["outcome"] == "applied"
    row = org_row(admin, org)
    assert (row["prem_status"], row["subscription_id"], row["subscription_end_date"]) == ("free", None, None)


def test_dispute_is_recorded_and_the_org_flagged(
    admin: psycopg.Connection[Any],
    stripe_api: stripe_stub.StripeApiStub,
    org: uuid.UUID,
    caplog: pytest.LogCaptureFixture,
    sub: str,
) -> None:
    deliver(checkout(stripe_api, org, sub, created=1000))
    dispute_id = f"dp_{uuid.uuid4().hex[:12]}"
    stripe_api.add_charge("ch_1", customer_of(org))
    payload = stripe_stub.event("charge.dispute.created", stripe_stub.dispute(dispute_id, "ch_1"), 3000)
    assert deliver(payload).body["outcome"] == "recorded"
    assert admin.execute(
        "SELECT org_id, amount, reason FROM agentmode.billing_disputes WHERE id = %s", (dispute_id,)
    ).fetchone() == (org, 4900, "fraudulent")
    row = org_row(admin, org)
    assert (row["billing_flagged"], row["billing_flag_reason"], row["prem_status"]) == (True, f"dispute {dispute_id}", "pro")
    assert any(r.levelname == "WARNING" and r.getMessage() == "payment disputed" for r in caplog.records)


def test_other_event_types_are_acknowledged_and_ignored(
    admin: psycopg.Connection[Any], stripe_api: stripe_stub.StripeApiStub
) -> None:
    payload = stripe_stub.event("invoice.paid", {"id": "in_1", "object": "invoice"})
    assert (deliver(payload).status, claimed(admin, payload["id"])) == (200, [(payload["id"], "ignored_type")])


@pytest.mark.parametrize("attack", ["tampered", "wrong_secret", "stale", "missing", "garbage_header"])
def test_unverifiable_deliveries_are_400_and_write_nothing(
    admin: psycopg.Connection[Any], stripe_api: stripe_stub.StripeApiStub, org: uuid.UUID, attack: str, sub: str
) -> None:
    payload = checkout(stripe_api, org, sub, created=1000)
    raw = json.dumps(payload).encode()
    headers = {
        "tampered": {"stripe-signature": stripe_stub.sign(raw, SECRET)},
        "wrong_secret": {"stripe-signature": stripe_stub.sign(raw, "whsec_not_ours")},
        "stale": {"stripe-signature": stripe_stub.sign(raw, SECRET, int(time.time()) - 301)},
        "missing": {},
        "garbage_header": {"stripe-signature": "t=abc,v1=zzz"},
    }[attack]
    body = raw.replace(b'"paid"', b'"unpaid"') if attack == "tampered" else raw
    result = invoke("POST", PATH, headers=headers, raw_body=body)
    assert (result.status, result.body["error_code"]) == (400, "WEBHOOK_SIGNATURE_INVALID")
    assert claimed(admin, payload["id"]) == []
    assert org_row(admin, org)["prem_status"] == "free"
    assert SECRET not in json.dumps(result.body)


def test_base64_encoded_body_from_api_gateway_is_verified(
    admin: psycopg.Connection[Any], stripe_api: stripe_stub.StripeApiStub, org: uuid.UUID, sub: str
) -> None:
    payload = checkout(stripe_api, org, sub, created=1000)
    raw = json.dumps(payload).encode()
    event = build_event(method="POST", path=PATH, raw_query="", headers=[("stripe-signature", stripe_stub.sign(raw, SECRET))],
                        body=b"", route_key=f"POST {PATH}", path_parameters={})  # fmt: skip
    event.update(body=base64.b64encode(raw).decode(), isBase64Encoded=True)
    assert invoke_event(event).body["outcome"] == "applied"


def test_ten_replays_change_the_org_once(
    admin: psycopg.Connection[Any], stripe_api: stripe_stub.StripeApiStub, org: uuid.UUID, sub: str
) -> None:
    deliver(checkout(stripe_api, org, sub, created=1000))
    payload = sub_event("updated", sub, 2000, "past_due", org=org)
    outcomes = [deliver(payload).body["outcome"] for _ in range(10)]
    assert outcomes == ["applied"] + ["duplicate"] * 9
    assert claimed(admin, payload["id"]) == [(payload["id"], "applied")]
    first_past_due = org_row(admin, org)["past_due_since"]
    assert first_past_due is not None


def test_two_simultaneous_deliveries_apply_once(
    admin: psycopg.Connection[Any], stripe_api: stripe_stub.StripeApiStub, org: uuid.UUID, sub: str
) -> None:
    deliver(checkout(stripe_api, org, sub, created=1000))
    payload = sub_event("deleted", sub, 2000, "canceled", org=org)
    barrier, outcomes = threading.Barrier(2), []

    def deliver_in_own_container() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        barrier.wait()
        outcomes.append(deliver(payload))

    threads = [threading.Thread(target=deliver_in_own_container) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.body["outcome"] for r in outcomes) == ["applied", "duplicate"]
    assert [r.status for r in outcomes] == [200, 200]
    assert claimed(admin, payload["id"]) == [(payload["id"], "applied")]


def test_an_older_event_never_overwrites_a_newer_one(
    admin: psycopg.Connection[Any], stripe_api: stripe_stub.StripeApiStub, org: uuid.UUID, sub: str
) -> None:
    deliver(checkout(stripe_api, org, sub, created=1000))
    newer, older = sub_event("deleted", sub, 3000, "canceled", org=org), sub_event("updated", sub, 2000, "active", org=org)
    assert deliver(newer).body["outcome"] == "applied"
    assert deliver(older).body["outcome"] in ("stale", "ignored_other_subscription")
    assert org_row(admin, org)["prem_status"] == "free"


def test_out_of_order_updates_keep_the_newest_status(
    admin: psycopg.Connection[Any], stripe_api: stripe_stub.StripeApiStub, org: uuid.UUID, sub: str
) -> None:
    deliver(checkout(stripe_api, org, sub, created=1000))
    deliver(sub_event("updated", sub, 3000, "past_due", org=org))
    assert deliver(sub_event("updated", sub, 2000, "active", org=org)).body["outcome"] == "stale"
    assert org_row(admin, org)["subscription_status"] == "past_due"


def test_events_of_a_replaced_subscription_are_ignored(
    admin: psycopg.Connection[Any], stripe_api: stripe_stub.StripeApiStub, org: uuid.UUID, sub: str
) -> None:
    deliver(checkout(stripe_api, org, sub, created=1000))
    assert (
        deliver(sub_event("deleted", f"{sub}_old", 2000, "canceled", org=org, org_id=str(org))).body["outcome"]
        == "ignored_other_subscription"
    )
    assert org_row(admin, org)["prem_status"] == "pro"


def test_subscription_event_before_checkout_is_parked_then_applied(
    admin: psycopg.Connection[Any], stripe_api: stripe_stub.StripeApiStub, org: uuid.UUID, sub: str
) -> None:
    early = sub_event("updated", sub, 2000, "past_due", org=org)
    assert deliver(early).body["outcome"] == "parked"
    assert org_row(admin, org)["prem_status"] == "free"
    assert deliver(checkout(stripe_api, org, sub, created=1000)).body["outcome"] == "applied"
    row = org_row(admin, org)
    assert (row["prem_status"], row["subscription_status"]) == ("pro", "past_due")
    parked = admin.execute("SELECT outcome FROM agentmode.stripe_parked_events WHERE event_id = %s", (early["id"],)).fetchone()
    assert parked == ("applied",)


def test_a_failure_half_way_is_5xx_and_writes_nothing(
    admin: psycopg.Connection[Any],
    stripe_api: stripe_stub.StripeApiStub,
    org: uuid.UUID,
    monkeypatch: pytest.MonkeyPatch,
    sub: str,
) -> None:
    payload = checkout(stripe_api, org, sub, created=1000)

    def broken_write(*args: Any, **kwargs: Any) -> bool:
        raise psycopg.errors.DeadlockDetected("injected")

    monkeypatch.setattr(billing, "apply_state", broken_write)
    result = deliver(payload)
    assert result.status >= 500
    assert claimed(admin, payload["id"]) == []
    assert org_row(admin, org)["prem_status"] == "free"
    monkeypatch.undo()
    assert deliver(payload).body["outcome"] == "applied"


def test_stripe_api_outage_is_503_and_writes_nothing(
    admin: psycopg.Connection[Any], stripe_api: stripe_stub.StripeApiStub, org: uuid.UUID, sub: str
) -> None:
    payload = checkout(stripe_api, org, sub, created=1000)
    stripe_api.fail_with = 500
    result = deliver(payload)
    assert (result.status, result.body["error_code"]) == (503, "SERVICE_UNAVAILABLE")
    assert claimed(admin, payload["id"]) == []


def test_an_upgrade_by_webhook_raises_the_daily_run_quota(
    admin: psycopg.Connection[Any], stripe_api: stripe_stub.StripeApiStub
) -> None:
    user = create_user(admin, credits=1000)
    org_id = admin.execute("INSERT INTO agentmode.orgs (name) VALUES ('Quota') RETURNING id").fetchone()[0]
    admin.execute("INSERT INTO agentmode.user_orgs (user_id, org_id, role) VALUES (%s, %s, 'owner')", (user.id, org_id))
    start = lambda: invoke("POST", "/agent/start", headers=user.auth, json_body={"goal": "x"}).status  # noqa: E731
    assert [start() for _ in range(11)] == [201] * 10 + [429]
    deliver(checkout(stripe_api, org_id, f"sub_{uuid.uuid4().hex[:14]}", created=1000))
    assert start() == 201


def test_a_dispute_before_its_checkout_flags_the_org_once_linked(
    admin: psycopg.Connection[Any], stripe_api: stripe_stub.StripeApiStub, org: uuid.UUID, sub: str
) -> None:
    stripe_api.add_charge("ch_early", customer_of(org))
    dispute_id = f"dp_{uuid.uuid4().hex[:12]}"
    early = stripe_stub.event("charge.dispute.created", stripe_stub.dispute(dispute_id, "ch_early"), int(time.time()) - 60)
    assert deliver(early).body["outcome"] == "recorded_unlinked"
    deliver(checkout(stripe_api, org, sub, created=int(time.time()) - 120))
    row = org_row(admin, org)
    assert (row["billing_flagged"], row["billing_flag_reason"]) == (True, f"dispute {dispute_id}")
    assert admin.execute("SELECT org_id FROM agentmode.billing_disputes WHERE id = %s", (dispute_id,)).fetchone() == (org,)


def test_a_late_event_that_ended_an_earlier_past_due_streak_still_counts(
    admin: psycopg.Connection[Any], stripe_api: stripe_stub.StripeApiStub, org: uuid.UUID, sub: str
) -> None:
    day, now = 86_400, int(time.time())
    deliver(checkout(stripe_api, org, sub, created=now - 10 * day))
    deliver(sub_event("updated", sub, now - 8 * day, "past_due", org=org))
    deliver(sub_event("updated", sub, now - 1 * day, "past_due", org=org))
    assert deliver(sub_event("updated", sub, now - 6 * day, "active", org=org)).body["outcome"] == "stale"
    row = org_row(admin, org)
    assert (row["subscription_status"], int(row["past_due_since"].timestamp())) == ("past_due", now - day)
    plan = admin.execute("SELECT agentmode.org_effective_plan(o) FROM agentmode.orgs o WHERE id = %s", (org,)).fetchone()[0]
    assert plan == "pro"
