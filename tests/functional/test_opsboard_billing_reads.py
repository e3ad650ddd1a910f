"""The real dashboard's remaining billing paths under /opsboard/orgs/{org_id}/ (issue 13): subscription-detail,
stripe-pricing, preview-member-cost, billing/dashboard, create-free-subscription, update-subscription and
customer-portal. Who may call each, what each answers, which Stripe calls it makes (the loopback stand-in,
tests.stripe_billing_stub, records every one), the price cache, and Stripe or ClickHouse being down."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from agentmode.clickhouse import ClickHouse, Params, Row
from local.lambda_runtime import load_handler
from tests.billing_support import assert_error, billing_row, member, post
from tests.conftest import reset_function_state
from tests.factories import User, create_user
from tests.faults.stubs import closed_port
from tests.lambda_invoke import Result, function_dir, invoke
from tests.log_capture import LogOutput
from tests.projects_support import add_project, project_ids
from tests.stripe_billing_stub import APP_URL, ERROR_DETAIL, PRICE_ID, StripeBillingStub
from tests.trace_data import NOW, Span, insert_spans, llm_attributes, simple_trace

# billing/dashboard reads the usage tables: the schema (the session's `clickhouse` fixture) must be there.
pytestmark = pytest.mark.usefixtures("clickhouse")

DAY = 86_400
ROLES = ["owner", "admin", "developer", "business_user"]
ADMIN_ROUTES: dict[str, tuple[str, dict[str, Any] | None]] = {
    "subscription-detail": ("GET", None),
    "update-subscription": ("POST", {}),
    "customer-portal": ("POST", None),
}
MEMBER_ROUTES: dict[str, tuple[str, dict[str, Any] | None]] = {
    "stripe-pricing": ("GET", None),
    "preview-member-cost": ("GET", None),
    "billing/dashboard": ("GET", None),
}
ALL_ROUTES = {**ADMIN_ROUTES, **MEMBER_ROUTES, "create-free-subscription": ("POST", {})}


@dataclass(frozen=True)
class Paying:
    """The organization on the pro plan as the webhook leaves it: 3 members, 3 seats sent to Stripe, a period end."""

    subscription: str
    customer: str
    period_end: datetime


def call(actor: User, org: uuid.UUID | str, route: str, body: dict[str, Any] | None = None, **query: str) -> Result:
    method = ALL_ROUTES[route][0]
    if method == "POST":
        return post(actor, org, route, body)
    return invoke("GET", f"/opsboard/orgs/{org}/{route}", headers=actor.auth, query=query)


def as_role(admin: psycopg.Connection[Any], owner: User, org: uuid.UUID, role: str) -> User:
    return owner if role == "owner" else member(admin, org, role)


def seat_versions(admin: psycopg.Connection[Any], org: uuid.UUID) -> tuple[int, int, int | None]:
    row = admin.execute(
        "SELECT seat_version, seats_synced_version, seats_wanted FROM agentmode.orgs WHERE id = %s", (org,)
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), row[2]


@pytest.fixture(autouse=True)
def fresh_price_cache() -> Iterator[None]:
    """Each test starts as a fresh container would: no price cached."""
    load_handler(function_dir("opsboard_billing"))
    from opsboard_billing import price_cache

    price_cache.forget_prices()
    yield
    price_cache.forget_prices()


@pytest.fixture
def paying(admin: psycopg.Connection[Any], org: uuid.UUID, stripe_api: StripeBillingStub) -> Paying:
    member(admin, org, "developer")
    member(admin, org, "business_user")
    customer = stripe_api.add_customer()
    subscription = stripe_api.add_subscription(customer=customer, quantity=3)
    period_end = (NOW + timedelta(days=10)).replace(microsecond=0)
    admin.execute(
        "UPDATE agentmode.orgs SET prem_status = 'pro', subscription_id = %s, subscription_status = 'active',"
        " stripe_customer_id = %s, subscription_end_date = %s WHERE id = %s",
        (subscription, customer, int(period_end.timestamp()), org),
    )
    admin.execute("UPDATE agentmode.orgs SET seats_synced_version = seat_version WHERE id = %s", (org,))
    return Paying(subscription, customer, period_end)


# -- who may call each route ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ADMIN_ROUTES)
def test_owners_and_admins_may_call_the_admin_routes_and_others_get_403(
    route: str, role: str, admin: psycopg.Connection[Any], user: User, org: uuid.UUID, paying: Paying
) -> None:
    result = call(as_role(admin, user, org, role), org, route, ADMIN_ROUTES[route][1])
    if role in ("owner", "admin"):
        assert result.status == 200, result.body
    else:
        assert_error(result, 403, "ROLE_NOT_ALLOWED")


@pytest.mark.parametrize("role", ROLES)
def test_owners_and_admins_may_ask_for_the_free_plan_and_others_get_403(
    role: str, admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    result = call(as_role(admin, user, org, role), org, "create-free-subscription", {})
    if role in ("owner", "admin"):
        assert result.status == 200, result.body
    else:
        assert_error(result, 403, "ROLE_NOT_ALLOWED")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", MEMBER_ROUTES)
def test_every_member_may_read_pricing_member_cost_and_the_dashboard(
    route: str, role: str, admin: psycopg.Connection[Any], user: User, org: uuid.UUID, paying: Paying
) -> None:
    result = call(as_role(admin, user, org, role), org, route)
    assert result.status == 200, result.body


@pytest.mark.parametrize("route", ALL_ROUTES)
def test_a_non_member_gets_404_and_stripe_is_not_called(
    route: str, admin: psycopg.Connection[Any], org: uuid.UUID, paying: Paying, stripe_api: StripeBillingStub
) -> None:
    before = billing_row(admin, org)
    assert_error(call(create_user(admin), org, route, ALL_ROUTES[route][1]), 404, "NOT_FOUND")
    assert stripe_api.requests == []
    assert billing_row(admin, org) == before


@pytest.mark.parametrize("route", ALL_ROUTES)
def test_a_missing_org_gets_the_same_404(route: str, user: User, stripe_api: StripeBillingStub) -> None:
    assert_error(call(user, uuid.uuid4(), route, ALL_ROUTES[route][1]), 404, "NOT_FOUND")


@pytest.mark.parametrize("route", ALL_ROUTES)
def test_a_malformed_org_id_is_400(route: str, user: User, stripe_api: StripeBillingStub) -> None:
    result = call(user, "not-a-uuid", route, ALL_ROUTES[route][1])
    assert_error(result, 400, "VALIDATION_ERROR")
    assert [e["field"] for e in result.body["details"]["errors"]] == ["path.org_id"]


# -- subscription-detail ----------------------------------------------------------------------------------------------


def test_subscription_detail_answers_the_webhooks_columns_without_calling_stripe(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, paying: Paying, stripe_api: StripeBillingStub
) -> None:
    admin.execute("UPDATE agentmode.orgs SET subscription_cancel_at_period_end = true WHERE id = %s", (org,))
    result = call(user, org, "subscription-detail")
    assert result.status == 200
    assert result.body == {
        "subscription_id": paying.subscription, "status": "active", "current_period_end": int(paying.period_end.timestamp()),
        "cancel_at_period_end": True, "quantity": 3, "seats_pending": False, "plan": "pro",
    }  # fmt: skip
    assert stripe_api.requests == []


def test_subscription_detail_shows_a_seat_change_not_yet_sent(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, paying: Paying, stripe_api: StripeBillingStub
) -> None:
    member(admin, org, "developer")
    body = call(user, org, "subscription-detail").body
    assert (body["quantity"], body["seats_pending"]) == (4, True)


def test_subscription_detail_without_a_subscription_is_409(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    assert_error(call(user, org, "subscription-detail"), 409, "NO_SUBSCRIPTION")
    assert stripe_api.requests == []


# -- stripe-pricing and the price cache -------------------------------------------------------------------------------


def test_stripe_pricing_answers_the_plans_seat_price(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    result = call(user, org, "stripe-pricing")
    assert result.status == 200
    assert result.body == {
        "seat": {"priceId": PRICE_ID, "amount": 4000, "currency": "usd", "interval": "month", "interval_count": 1}
    }
    assert [r.path for r in stripe_api.requests] == [f"/v1/prices/{PRICE_ID}"]


def test_the_price_is_fetched_once_per_container(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    first = call(user, org, "stripe-pricing")
    second = call(user, org, "stripe-pricing")
    assert second.body == first.body
    assert len(stripe_api.price_reads) == 1


def test_the_price_is_fetched_again_once_its_cache_expires(
    user: User, org: uuid.UUID, stripe_api: StripeBillingStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsboard_billing import price_cache

    call(user, org, "stripe-pricing")
    monkeypatch.setattr(price_cache, "PRICE_CACHE_SECONDS", 0.0)
    call(user, org, "stripe-pricing")
    assert len(stripe_api.price_reads) == 2


def test_stripe_down_is_503_without_stripes_text(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    stripe_api.fail_with = 503
    result = call(user, org, "stripe-pricing")
    assert_error(result, 503, "SERVICE_UNAVAILABLE")
    assert result.body["details"]["service"] == "stripe"
    assert result.headers["retry-after"]
    assert ERROR_DETAIL not in str(result.body)


def test_a_failed_price_fetch_is_not_cached(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    stripe_api.fail_with = 503
    call(user, org, "stripe-pricing")
    stripe_api.fail_with = None
    assert call(user, org, "stripe-pricing").status == 200
    assert len(stripe_api.price_reads) == 2


def test_a_price_stripe_does_not_have_is_503_naming_the_setting(
    user: User, org: uuid.UUID, stripe_api: StripeBillingStub, logs: LogOutput
) -> None:
    del stripe_api.prices[PRICE_ID]
    result = call(user, org, "stripe-pricing")
    assert_error(result, 503, "SERVICE_UNAVAILABLE")
    assert result.body["details"]["reason"] == "price not found"
    [line] = logs.lines("STRIPE_SUBSCRIPTION_PRICE_ID names no price Stripe has")
    assert (line["level"], line["setting"]) == ("ERROR", "STRIPE_SUBSCRIPTION_PRICE_ID")


def test_amounts_in_zero_decimal_currencies_have_no_cents() -> None:
    from opsboard_billing.price_cache import PlanPrice

    assert PlanPrice("price_jpy", 4000, "jpy", "month", 1).major_units(4000) == 4000.0
    assert PlanPrice("price_usd", 4000, "usd", "month", 1).major_units(1333) == 13.33


def test_a_period_ending_past_a_short_months_end_starts_on_that_months_last_day() -> None:
    from opsboard_billing.price_cache import PlanPrice

    monthly = PlanPrice(PRICE_ID, 4000, "usd", "month", 1)
    assert monthly.period_start(datetime(2031, 3, 31, 9, 30, tzinfo=UTC)) == datetime(2031, 2, 28, 9, 30, tzinfo=UTC)
    assert PlanPrice(PRICE_ID, 4000, "usd", "month", 3).interval_label == "3 months"


# -- preview-member-cost ----------------------------------------------------------------------------------------------


def test_preview_answers_stripes_proration_for_one_more_seat_and_the_seat_price(
    user: User, org: uuid.UUID, paying: Paying, stripe_api: StripeBillingStub
) -> None:
    """A third of the period is left: one more seat costs a third of its price now, the full price at renewal."""
    now = int(datetime.now(UTC).timestamp())
    item = stripe_api.subscriptions[paying.subscription]["items"]["data"][0]
    item.update(current_period_start=now - 20 * DAY, current_period_end=now + 10 * DAY)
    result = call(user, org, "preview-member-cost")
    assert result.status == 200
    assert result.body == {
        "immediate_charge": 13.33, "next_period_charge": 40.0, "billing_interval": "month",
        "period_end": paying.period_end.isoformat().replace("+00:00", "Z"), "currency": "usd",
    }  # fmt: skip
    [preview] = stripe_api.calls("POST", "/v1/invoices/create_preview")
    assert preview.params["subscription_details"] == {
        "items": [{"id": item["id"], "quantity": "4"}],
        "proration_behavior": "create_prorations",
    }


def test_preview_changes_nothing_at_stripe(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, paying: Paying, stripe_api: StripeBillingStub
) -> None:
    before = billing_row(admin, org)
    assert call(user, org, "preview-member-cost").status == 200
    assert stripe_api.quantity(paying.subscription) == 3
    assert stripe_api.subscription_updates(paying.subscription) == []
    assert billing_row(admin, org) == before


def test_preview_without_a_live_subscription_is_409_and_stripe_is_not_called(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    admin.execute(
        "UPDATE agentmode.orgs SET subscription_id = 'sub_ended', subscription_status = 'canceled' WHERE id = %s", (org,)
    )
    assert_error(call(user, org, "preview-member-cost"), 409, "NO_SUBSCRIPTION")
    assert stripe_api.requests == []


def test_preview_while_stripe_is_down_is_503(user: User, org: uuid.UUID, paying: Paying, stripe_api: StripeBillingStub) -> None:
    stripe_api.fail_with = 503
    result = call(user, org, "preview-member-cost")
    assert_error(result, 503, "SERVICE_UNAVAILABLE")
    assert ERROR_DETAIL not in str(result.body)


# -- billing/dashboard ------------------------------------------------------------------------------------------------


def test_the_dashboard_of_a_free_org_is_the_calendar_month_without_seats_or_a_stripe_call(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    result = call(user, org, "billing/dashboard")
    assert result.status == 200
    period = result.body["current_period"]
    start = datetime.fromisoformat(period["period_start"])
    assert (start.day, start.hour, start.minute, start.tzinfo is not None) == (1, 0, 0, True)
    assert (period["seat_count"], period["seat_cost"], period["total_cost"], period["status"]) == (0, 0, 0, "current")
    assert [p["project_id"] for p in result.body["project_breakdown"]] == [str(p) for p in project_ids(admin, org)]
    assert stripe_api.requests == []


def test_the_dashboard_of_a_paying_org_bills_its_seats_for_the_webhooks_period(
    user: User, org: uuid.UUID, paying: Paying, stripe_api: StripeBillingStub
) -> None:
    body = call(user, org, "billing/dashboard").body
    period = body["current_period"]
    end = paying.period_end
    expected_start = end.replace(month=end.month - 1) if end.month > 1 else end.replace(year=end.year - 1, month=12)
    assert datetime.fromisoformat(period["period_end"]) == end
    assert datetime.fromisoformat(period["period_start"]) == expected_start
    assert (period["seat_count"], period["seat_cost"], period["total_cost"]) == (3, 12000, 12000)
    assert [r.path for r in stripe_api.requests] == [f"/v1/prices/{PRICE_ID}"]


def test_the_dashboards_fields_without_a_source_here_are_constant(
    user: User, org: uuid.UUID, paying: Paying, stripe_api: StripeBillingStub
) -> None:
    body = call(user, org, "billing/dashboard").body
    assert (body["past_periods"], body["total_spent_all_time"]) == ([], None)
    assert (body["is_legacy_billing"], body["legacy_cancellation_date"]) == (False, None)


class RecordingClickHouse:
    """The function's own ClickHouse client, with the queries sent through it noted."""

    def __init__(self, inner: ClickHouse, queries: list[str]) -> None:
        self.inner = inner
        self.queries = queries

    def query(self, sql: str, params: Params) -> list[Row]:
        self.queries.append(sql)
        return self.inner.query(sql, params)


def test_each_projects_tokens_and_spans_in_the_range_come_from_one_query_and_cost_nothing(
    admin: psycopg.Connection[Any],
    user: User,
    org: uuid.UUID,
    clickhouse: ClickHouse,
    stripe_api: StripeBillingStub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agentmode import clickhouse as clickhouse_module

    [default] = project_ids(admin, org)
    second = add_project(admin, org, "second")
    simple_trace(clickhouse, default, start=NOW - timedelta(hours=2), children=2)
    simple_trace(clickhouse, default, start=NOW - timedelta(hours=5), children=4)  # before the range
    simple_trace(clickhouse, second, start=NOW - timedelta(hours=2), children=1)
    simple_trace(clickhouse, uuid.uuid4(), start=NOW - timedelta(hours=2), children=9)  # another org's project
    queries: list[str] = []
    client = clickhouse_module.get_clickhouse
    monkeypatch.setattr(clickhouse_module, "get_clickhouse", lambda: RecordingClickHouse(client(), queries))

    start, end = (NOW - timedelta(hours=3)).isoformat(), (NOW + timedelta(seconds=1)).isoformat()
    body = call(user, org, "billing/dashboard", start_date=start, end_date=end).body

    assert body["project_breakdown"] == [
        {"project_id": str(default), "project_name": "Default Project", "tokens": 300, "spans": 3,
         "token_cost": 0, "span_cost": 0, "total_cost": 0},
        {"project_id": str(second), "project_name": "second", "tokens": 150, "spans": 2,
         "token_cost": 0, "span_cost": 0, "total_cost": 0},
    ]  # fmt: skip
    period = body["current_period"]
    assert (period["usage_quantities"], period["usage_costs"]) == ({"tokens": 450, "spans": 5}, {})
    assert period["usage_breakdown"] == [
        {"usage_type": "tokens", "quantity": 450, "cost_cents": 0},
        {"usage_type": "spans", "quantity": 5, "cost_cents": 0},
    ]
    assert len(queries) == 1


def test_usage_at_the_ranges_edges_is_counted_to_the_span(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, clickhouse: ClickHouse, stripe_api: StripeBillingStub
) -> None:
    """Whole hours come from the hourly rollup and the partial hours from the spans: a span a minute either side of
    a boundary lands on its own side."""
    [project] = project_ids(admin, org)
    hour = (NOW - timedelta(hours=6)).replace(minute=0, second=0)
    start, end = hour + timedelta(minutes=30), hour + timedelta(hours=3, minutes=30)
    trace = uuid.uuid4().hex
    minutes = [29, 31, 120, 209, 211]
    spans = [
        Span(trace, f"s{m}", start=hour + timedelta(minutes=m), attributes=llm_attributes("gpt-4o-mini", m, 0)) for m in minutes
    ]
    insert_spans(clickhouse, project, spans)
    body = call(user, org, "billing/dashboard", start_date=start.isoformat(), end_date=end.isoformat()).body
    [usage] = body["project_breakdown"]
    assert (usage["spans"], usage["tokens"]) == (3, 31 + 120 + 209)


def test_a_custom_range_has_no_seat_cost_and_no_stripe_call(
    user: User, org: uuid.UUID, paying: Paying, stripe_api: StripeBillingStub
) -> None:
    start, end = NOW - timedelta(days=2), NOW - timedelta(days=1)
    period = call(user, org, "billing/dashboard", start_date=start.isoformat(), end_date=end.isoformat()).body["current_period"]
    assert (period["id"], period["status"], period["seat_count"], period["seat_cost"], period["total_cost"]) == (
        "custom", "custom", 3, None, None,
    )  # fmt: skip
    assert (datetime.fromisoformat(period["period_start"]), datetime.fromisoformat(period["period_end"])) == (start, end)
    assert stripe_api.requests == []


def test_an_end_date_at_midnight_takes_that_whole_day_in(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    """The dashboard's date pickers send the last day of a range as its midnight."""
    period = call(user, org, "billing/dashboard", start_date="2031-01-01T00:00:00Z", end_date="2031-01-31T00:00:00Z").body
    assert period["current_period"]["period_end"] == "2031-02-01T00:00:00Z"


def test_a_start_date_alone_runs_until_now(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    body = call(user, org, "billing/dashboard", start_date=(NOW - timedelta(days=1)).isoformat()).body
    assert datetime.fromisoformat(body["current_period"]["period_end"]) >= NOW


@pytest.mark.parametrize(
    "query",
    [{"end_date": "2031-01-31T00:00:00Z"}, {"start_date": "2031-02-01T00:00:00Z", "end_date": "2031-01-01T00:00:00Z"}],
    ids=["end without start", "start after end"],
)
def test_an_unusable_range_is_400(query: dict[str, str], user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    result = call(user, org, "billing/dashboard", **query)
    assert_error(result, 400, "VALIDATION_ERROR")
    assert [e["field"] for e in result.body["details"]["errors"]] == ["query.start_date"]


def test_project_id_narrows_the_breakdown_to_that_project(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    second = add_project(admin, org, "second")
    body = call(user, org, "billing/dashboard", project_id=str(second)).body
    assert [p["project_id"] for p in body["project_breakdown"]] == [str(second)]


def test_another_orgs_project_id_shows_no_project(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    [foreign] = project_ids(admin, uuid.UUID(str(admin.execute(
        "SELECT org_id FROM agentmode.user_orgs WHERE user_id = %s", (create_user(admin).id,)
    ).fetchone()[0])))  # fmt: skip
    body = call(user, org, "billing/dashboard", project_id=str(foreign)).body
    assert body["project_breakdown"] == []


def test_usage_is_null_while_clickhouse_is_down_and_the_seats_are_served(
    user: User, org: uuid.UUID, paying: Paying, stripe_api: StripeBillingStub, monkeypatch: pytest.MonkeyPatch, logs: LogOutput
) -> None:
    for name, value in {
        "CLICKHOUSE_HOST": "127.0.0.1", "CLICKHOUSE_PORT": str(closed_port()), "CLICKHOUSE_SECURE": "false",
        "CLICKHOUSE_CONNECT_TIMEOUT_SECONDS": "1", "CLICKHOUSE_QUERY_TIMEOUT_SECONDS": "1",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    reset_function_state()
    result = call(user, org, "billing/dashboard")
    assert result.status == 200
    period = result.body["current_period"]
    assert (period["usage_quantities"], period["usage_breakdown"], result.body["project_breakdown"]) == (None, None, None)
    assert (period["seat_count"], period["seat_cost"]) == (3, 12000)
    [warning] = logs.lines("usage unavailable; billing dashboard served without it")
    assert warning["level"] == "WARNING"


def test_the_dashboard_of_a_paying_org_while_stripe_is_down_is_503(
    user: User, org: uuid.UUID, paying: Paying, stripe_api: StripeBillingStub
) -> None:
    stripe_api.fail_with = 503
    assert_error(call(user, org, "billing/dashboard"), 503, "SERVICE_UNAVAILABLE")


# -- create-free-subscription -----------------------------------------------------------------------------------------


def test_a_free_org_asking_for_the_free_plan_gets_it_and_nothing_changes(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    before = billing_row(admin, org)
    result = call(user, org, "create-free-subscription", {"price_id": PRICE_ID})
    assert result.status == 200
    assert result.body == {
        "success": True, "message": "The organization is on the free plan; it needs no subscription.",
        "org_id": str(org), "plan": "free", "subscription_id": None,
    }  # fmt: skip
    assert billing_row(admin, org) == before
    assert stripe_api.requests == []


def test_asking_for_the_free_plan_twice_answers_the_same(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    assert call(user, org, "create-free-subscription").body == call(user, org, "create-free-subscription").body


def test_weakness_a_discount_code_makes_no_subscription_outside_checkout(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    """The real server creates a subscription with a 100%-off code here, with a new customer each time and the
    client's price, bypassing checkout's lock and the webhook's price check."""
    stripe_api.add_coupon("FREE100", percent_off=100)
    before = billing_row(admin, org)
    result = call(user, org, "create-free-subscription", {"price_id": PRICE_ID, "discount_code": "FREE100"})
    assert_error(result, 400, "DISCOUNT_CODE_INVALID")
    assert stripe_api.requests == []
    assert billing_row(admin, org) == before


def test_the_free_plan_for_an_org_with_a_live_subscription_is_409(
    user: User, org: uuid.UUID, paying: Paying, stripe_api: StripeBillingStub
) -> None:
    assert_error(call(user, org, "create-free-subscription"), 409, "ALREADY_SUBSCRIBED")


def test_the_free_plan_with_another_price_is_400(user: User, org: uuid.UUID, stripe_api: StripeBillingStub) -> None:
    result = call(user, org, "create-free-subscription", {"price_id": "price_other"})
    assert_error(result, 400, "VALIDATION_ERROR")
    assert [e["field"] for e in result.body["details"]["errors"]] == ["body.price_id"]


# -- update-subscription ----------------------------------------------------------------------------------------------


def test_update_sends_one_seat_per_member_through_seat_sync(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, paying: Paying, stripe_api: StripeBillingStub
) -> None:
    version = seat_versions(admin, org)[0]
    result = call(user, org, "update-subscription", {"proration_behavior": "create_prorations", "price_id": PRICE_ID})
    assert result.status == 200
    assert (result.body["success"], result.body["seats"]) == (True, 3)
    [update] = stripe_api.subscription_updates(paying.subscription)
    assert update.idempotency_key == f"seats-{paying.subscription}-{version + 1}"
    assert update.params["items"][0]["quantity"] == "3"
    assert seat_versions(admin, org) == (version + 1, version + 1, 3)


def test_update_corrects_a_quantity_changed_at_stripe(
    user: User, org: uuid.UUID, paying: Paying, stripe_api: StripeBillingStub
) -> None:
    """Someone changed the seats outside this API (Stripe's dashboard, the customer portal): members win."""
    stripe_api.subscriptions[paying.subscription]["items"]["data"][0]["quantity"] = 7
    call(user, org, "update-subscription")
    assert stripe_api.quantity(paying.subscription) == 3


def test_update_while_stripe_is_down_answers_200_and_seat_sync_sends_the_seats_later(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, paying: Paying, stripe_api: StripeBillingStub
) -> None:
    stripe_api.subscriptions[paying.subscription]["items"]["data"][0]["quantity"] = 7
    stripe_api.fail_with = 503
    assert call(user, org, "update-subscription").status == 200
    version, synced, _ = seat_versions(admin, org)
    assert version == synced + 1
    stripe_api.fail_with = None
    load_handler(function_dir("seat_sync"))
    from agentmode.seats import sync_seats

    assert sync_seats(org).synced == 1
    assert stripe_api.quantity(paying.subscription) == 3


def test_a_retry_while_seats_are_pending_adds_no_stripe_update(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, paying: Paying, stripe_api: StripeBillingStub
) -> None:
    stripe_api.fail_with = 503
    call(user, org, "update-subscription")
    pending = seat_versions(admin, org)
    call(user, org, "update-subscription")
    assert seat_versions(admin, org) == pending


def test_update_without_a_live_subscription_is_409_and_writes_nothing(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    before = seat_versions(admin, org), billing_row(admin, org)
    assert_error(call(user, org, "update-subscription"), 409, "NO_SUBSCRIPTION")
    assert (seat_versions(admin, org), billing_row(admin, org)) == before
    assert stripe_api.requests == []


@pytest.mark.parametrize(
    ("body", "field"),
    [({"price_id": "price_other"}, "body.price_id"), ({"proration_behavior": "always_invoice"}, "body.proration_behavior"),
     ({"quantity": 9}, "body.quantity")],
    ids=["another price", "another proration", "a quantity"],
)  # fmt: skip
def test_update_asking_for_anything_but_the_plan_is_400(
    body: dict[str, Any], field: str, admin: psycopg.Connection[Any], user: User, org: uuid.UUID, paying: Paying,
    stripe_api: StripeBillingStub,
) -> None:  # fmt: skip
    before = seat_versions(admin, org)
    result = call(user, org, "update-subscription", body)
    assert_error(result, 400, "VALIDATION_ERROR")
    assert [e["field"] for e in result.body["details"]["errors"]] == [field]
    assert seat_versions(admin, org) == before
    assert stripe_api.requests == []


# -- customer-portal --------------------------------------------------------------------------------------------------


def test_the_portal_opens_for_the_orgs_customer_and_returns_to_the_settings_page(
    user: User, org: uuid.UUID, paying: Paying, stripe_api: StripeBillingStub
) -> None:
    result = call(user, org, "customer-portal")
    assert result.status == 200
    assert result.body["url"].startswith("https://billing.stripe.com/p/session/")
    [create] = stripe_api.portal_creates
    assert create.params == {"customer": paying.customer, "return_url": f"{APP_URL}/settings/organization"}


def test_the_portal_without_a_stripe_customer_is_409_and_stripe_is_not_called(
    user: User, org: uuid.UUID, stripe_api: StripeBillingStub
) -> None:
    assert_error(call(user, org, "customer-portal"), 409, "NO_SUBSCRIPTION")
    assert stripe_api.requests == []


def test_portal_idempotency_keys_come_from_the_request_or_state(
    user: User, org: uuid.UUID, paying: Paying, stripe_api: StripeBillingStub
) -> None:
    for key in ("open-1", "open-1", None, None):
        post(user, org, "customer-portal", key=key)
    keys = [r.idempotency_key for r in stripe_api.portal_creates]
    assert keys == [f"portal-{org}-open-1", f"portal-{org}-open-1", f"portal-{paying.customer}-1", f"portal-{paying.customer}-2"]
    assert [r.replayed for r in stripe_api.portal_creates] == [False, True, False, False]


def test_the_portal_while_stripe_is_down_is_503_and_nothing_is_written(
    admin: psycopg.Connection[Any], user: User, org: uuid.UUID, paying: Paying, stripe_api: StripeBillingStub
) -> None:
    before = billing_row(admin, org)
    stripe_api.fail_with = 503
    result = call(user, org, "customer-portal")
    assert_error(result, 503, "SERVICE_UNAVAILABLE")
    assert ERROR_DETAIL not in str(result.body)
    assert billing_row(admin, org) == before
