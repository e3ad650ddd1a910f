"""Fixtures of the security suite."""

import hashlib
from collections.abc import Iterator

import pytest

import agentmode.memory
from tests import stripe_stub
from tests.conftest import reset_function_state
from tests.stripe_billing_stub import StripeBillingStub

WEBHOOK_SECRET = "whsec_security_suite_endpoint_secret"


class HashEmbedder:
    """Stands in for the embeddings provider (Bedrock in production): deterministic, instant, 1,024 dimensions.

    What these tests check (statuses, rows, whose rows) does not depend on which vectors come back, and the local
    model's load would take much of the suite's time budget.
    """

    name = "test-hash"
    dimension = 1024

    def embed(self, text: str) -> list[float]:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
        return [(digest[i % len(digest)] + 1) / 256 for i in range(self.dimension)]


@pytest.fixture(scope="package", autouse=True)
def hash_embeddings() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(agentmode.memory, "embedder_for", lambda settings: HashEmbedder())
        yield


@pytest.fixture(scope="package")
def stripe_billing() -> Iterator[StripeBillingStub]:
    stub = StripeBillingStub()
    yield stub
    stub.close()


@pytest.fixture(scope="package", autouse=True)
def billing_routes(stripe_billing: StripeBillingStub) -> Iterator[None]:
    """The billing routes as deployed (key, price, web app), with Stripe's API on loopback, so every recipe can
    succeed; make_target registers each target's subscription there."""
    with pytest.MonkeyPatch.context() as patch:
        stripe_billing.configure(patch)
        reset_function_state()
        yield
    reset_function_state()


@pytest.fixture(scope="package")
def stripe_server() -> Iterator[stripe_stub.StripeApiStub]:
    stub = stripe_stub.StripeApiStub()
    yield stub
    stub.close()


@pytest.fixture
def webhook(stripe_server: stripe_stub.StripeApiStub, monkeypatch: pytest.MonkeyPatch) -> Iterator[stripe_stub.StripeApiStub]:
    """The webhook configured as deployed (its secret, an API key, the pro price), Stripe's API on loopback."""
    stripe_server.configure(monkeypatch, WEBHOOK_SECRET, api_key="sk_test_security_suite")
    reset_function_state()
    yield stripe_server
    monkeypatch.undo()
    reset_function_state()
