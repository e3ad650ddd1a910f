"""bench.stripe_webhook's workload: a seeded story of organizations' Stripe events, signed as Stripe would send them,
plus re-sends, shuffled; what Stripe's API must answer about them is registered in the stub."""

import json
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bench.stripe_webhook_config import (
    DAY,
    DELETED_ORGS,
    DISPUTED_ORGS,
    DUPLICATES,
    MAX_GAP_SECONDS,
    MONTH,
    ORGS,
    STATUSES,
    UNIQUE_EVENTS,
    UPDATES_PER_ORG,
)
from tests import stripe_stub


@dataclass(frozen=True)
class Delivery:
    """One event as Stripe would send it: the exact bytes that get signed, and what the verification needs to know."""

    event_id: str
    type: str
    created: int
    org_id: uuid.UUID
    raw: bytes


@dataclass(frozen=True)
class Workload:
    seed: int
    orgs: list[uuid.UUID]
    events: list[Delivery]  # unique, in `created` order
    deliveries: list[Delivery]  # events plus re-sends, shuffled


def customer_of(org_id: uuid.UUID) -> str:
    """One customer per organization: the webhook falls back to the customer id to find an org."""
    return f"cus_{org_id.hex[:14]}"


def random_id(rng: random.Random, prefix: str) -> str:
    return f"{prefix}_{rng.getrandbits(96):024x}"


def updates_per_org(rng: random.Random) -> list[int]:
    """Random counts within UPDATES_PER_ORG, nudged until the whole workload has exactly UNIQUE_EVENTS events."""
    low, high = UPDATES_PER_ORG
    counts = [rng.randint(low, high) for _ in range(ORGS)]
    target = UNIQUE_EVENTS - ORGS - DELETED_ORGS - DISPUTED_ORGS
    assert low * ORGS <= target <= high * ORGS, "the workload constants cannot add up to UNIQUE_EVENTS"
    while (total := sum(counts)) != target:
        i = rng.randrange(ORGS)
        if total < target and counts[i] < high:
            counts[i] += 1
        elif total > target and counts[i] > low:
            counts[i] -= 1
    return counts


def kinds_of(rng: random.Random, updates: int, deleted: bool, disputed: bool) -> list[str]:
    """One organization's event types in timeline order: the checkout first; a dispute anywhere after it."""
    kinds = ["checkout", *["updated"] * updates, *(["deleted"] if deleted else [])]
    if disputed:
        kinds.insert(rng.randint(1, len(kinds)), "dispute")
    return kinds


def to_delivery(payload: dict[str, Any], org_id: uuid.UUID) -> Delivery:
    raw = json.dumps(payload).encode()
    return Delivery(payload["id"], payload["type"], payload["created"], org_id, raw)


def org_timeline(
    rng: random.Random, stub: stripe_stub.StripeApiStub, org_id: uuid.UUID, kinds: list[str], start: int
) -> list[Delivery]:
    """An organization's events, strictly increasing in `created` (1 s to an hour apart), with what Stripe's API must
    answer for the checkout session and the disputed charge registered in the stub."""
    customer, sub_id = customer_of(org_id), random_id(rng, "sub")
    created, events = start, []
    for kind in kinds:
        created += rng.randint(1, MAX_GAP_SECONDS)
        if kind == "checkout":
            session = stripe_stub.checkout_session(random_id(rng, "cs"), str(org_id), sub_id, customer)
            stub.add_checkout(session, stripe_stub.subscription(sub_id, "active", customer=customer, period_end=start + MONTH))
            payload = stripe_stub.event("checkout.session.completed", session, created, random_id(rng, "evt"))
        elif kind == "dispute":
            charge_id = random_id(rng, "ch")
            stub.add_charge(charge_id, customer)
            payload = stripe_stub.event("charge.dispute.created", stripe_stub.dispute(random_id(rng, "dp"), charge_id), created,
                                        random_id(rng, "evt"))  # fmt: skip
        else:
            subscription = stripe_stub.subscription(
                sub_id,
                "canceled" if kind == "deleted" else rng.choice(STATUSES),
                customer=customer,
                cancel_at_period_end=rng.random() < 0.3,
                period_end=start + rng.randint(1, 12) * MONTH,
            )
            payload = stripe_stub.event(f"customer.subscription.{kind}", subscription, created, random_id(rng, "evt"))
        events.append(to_delivery(payload, org_id))
    return events


def build_workload(stub: stripe_stub.StripeApiStub, seed: int) -> Workload:
    """Seeded, so every run sends the same story (only the timestamps follow the clock: the last three days, so the
    7-day past_due grace period of org_effective_plan is still running for every org)."""
    rng = random.Random(seed)
    orgs = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(ORGS)]
    deleted, disputed = set(rng.sample(orgs, DELETED_ORGS)), set(rng.sample(orgs, DISPUTED_ORGS))
    first_day = int(time.time()) - 3 * DAY
    events: list[Delivery] = []
    for org_id, updates in zip(orgs, updates_per_org(rng), strict=True):
        kinds = kinds_of(rng, updates, org_id in deleted, org_id in disputed)
        events += org_timeline(rng, stub, org_id, kinds, first_day + rng.randint(0, 2 * DAY))
    assert len(events) == UNIQUE_EVENTS
    deliveries = events + [rng.choice(events) for _ in range(DUPLICATES)]
    rng.shuffle(deliveries)
    return Workload(seed, orgs, sorted(events, key=lambda e: e.created), deliveries)
