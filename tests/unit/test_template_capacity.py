"""Capacity: each function has a reserved slice of concurrency of its own (so a flood on one route cannot starve the
others, the Stripe webhook above all, nor open more Postgres connections than the pooler takes), and provisioned
concurrency only when asked for."""

import pytest

from tests.unit.template_model import FUNCTION_GLOBALS, FUNCTIONS, PARAMETERS, condition, parameters

# Supabase's pooler takes 200 client connections on its smallest compute sizes; a warm container holds one.
SMALLEST_POOLER_CLIENTS = 200
# Lambda refuses reservations that leave an account fewer than 100 unreserved executions (of 1,000 by default).
ACCOUNT_CONCURRENCY = 1000
UNRESERVED_MINIMUM = 100


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_function_reserves_concurrency_from_its_own_parameter(function: str) -> None:
    parameter = function.removesuffix("Function") + "Concurrency"

    assert FUNCTIONS[function]["ReservedConcurrentExecutions"] == {"Ref": parameter}
    assert PARAMETERS[parameter]["Type"] == "Number"
    assert PARAMETERS[parameter]["Default"] >= PARAMETERS[parameter]["MinValue"] >= 1


def test_default_reservations_fit_the_smallest_pooler_and_leave_the_account_its_unreserved_share() -> None:
    reserved = sum(PARAMETERS[f.removesuffix("Function") + "Concurrency"]["Default"] for f in FUNCTIONS)

    assert reserved <= SMALLEST_POOLER_CLIENTS
    assert reserved + UNRESERVED_MINIMUM <= ACCOUNT_CONCURRENCY


def test_the_stripe_webhook_keeps_a_slice_no_route_can_take() -> None:
    assert FUNCTIONS["StripeWebhookFunction"]["ReservedConcurrentExecutions"] == {"Ref": "StripeWebhookConcurrency"}
    assert PARAMETERS["StripeWebhookConcurrency"]["Default"] >= 5


def test_provisioned_concurrency_adds_nothing_at_zero() -> None:
    config = FUNCTION_GLOBALS["ProvisionedConcurrencyConfig"]["If"]

    assert PARAMETERS["ProvisionedConcurrency"]["Default"] == 0
    assert config == [
        "HasProvisionedConcurrency",
        {"ProvisionedConcurrentExecutions": {"Ref": "ProvisionedConcurrency"}},
        {"Ref": "AWS::NoValue"},
    ]
    assert not condition("HasProvisionedConcurrency", parameters())
    assert condition("HasProvisionedConcurrency", parameters(ProvisionedConcurrency="2"))


def test_provisioned_concurrency_lands_on_the_live_alias() -> None:
    assert FUNCTION_GLOBALS["AutoPublishAlias"] == "live"
