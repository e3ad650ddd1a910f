"""billing/dashboard: the organization's current billing period (or a custom range) with its seats' cost and each
project's usage.

The current period of a live subscription ends where the webhook says (subscription_end_date) and starts one price
interval earlier (price_cache.PlanPrice.period_start); without one it is the calendar month so far, as the real server
shows it. Seats are what the live subscription bills; usage is counted but never billed on this plan (cost 0).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from agentmode.db import Connection
from agentmode.errors import AppError, ErrorCode
from opsboard_billing.org_billing import BillingView
from opsboard_billing.price_cache import PlanPrice
from opsboard_billing.read_schemas import BillingDashboard, BillingPeriod, PeriodKind, ProjectUsage, UsageCost
from opsboard_billing.usage import Usage


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Project:
    id: UUID
    name: str


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _invalid(field: str, message: str) -> AppError:
    problem: dict[str, Any] = {"field": f"query.{field}", "message": message, "type": "range_invalid"}
    return AppError(ErrorCode.VALIDATION_ERROR, details={"errors": [problem]})


def custom_range(start: datetime | None, end: datetime | None, now: datetime) -> Period | None:
    """The range asked for, [start, end); None for the current period. An end at midnight takes in that whole day, as
    the dashboard's date pickers mean it; a start alone runs until now."""
    if start is None and end is None:
        return None
    if start is None:
        raise _invalid("start_date", "start_date is required with end_date.")
    until = now if end is None else _utc(end)
    if until == until.replace(hour=0, minute=0, second=0, microsecond=0):
        until += timedelta(days=1)
    if _utc(start) >= until:
        raise _invalid("start_date", "start_date must be before end_date.")
    return Period("custom", _utc(start), until)


def current_period(view: BillingView, price: PlanPrice | None, now: datetime) -> Period:
    if price is not None and view.live and view.period_end is not None:
        end = datetime.fromtimestamp(view.period_end, UTC)
        start = price.period_start(end)
        if start is not None:
            return Period("current", start, end)
    return Period("current", now.replace(day=1, hour=0, minute=0, second=0, microsecond=0), now)


def org_projects(conn: Connection, org_id: UUID, only: UUID | None) -> list[Project]:
    rows = conn.execute(
        "SELECT id, name FROM agentmode.projects WHERE org_id = %s AND (%s::uuid IS NULL OR id = %s) ORDER BY created_at, id",
        (org_id, only, only),
    ).fetchall()
    return [Project(row["id"], row["name"]) for row in rows]


def dashboard(
    view: BillingView, period: Period, price: PlanPrice | None, projects: list[Project], usage: dict[UUID, Usage] | None
) -> BillingDashboard:
    seats = view.seats or 0
    seat_cost = _seat_cost(period, seats, price)
    return BillingDashboard(
        current_period=BillingPeriod(
            id=period.kind,
            period_start=period.start,
            period_end=period.end,
            seat_cost=seat_cost,
            seat_count=seats,
            usage_costs={},
            usage_quantities=None if usage is None else _totals(usage),
            usage_breakdown=None if usage is None else _breakdown(_totals(usage)),
            total_cost=seat_cost,
            status=period.kind,
        ),
        project_breakdown=None if usage is None else [_project(project, usage[project.id]) for project in projects],
    )


def _seat_cost(period: Period, seats: int, price: PlanPrice | None) -> int | None:
    """A period's seats at the price (no price: no live subscription, nothing billed); a custom range is no period."""
    if period.kind == "custom":
        return None
    return 0 if price is None else seats * price.unit_amount


def _totals(usage: dict[UUID, Usage]) -> dict[str, int]:
    return {"tokens": sum(u.tokens for u in usage.values()), "spans": sum(u.spans for u in usage.values())}


def _breakdown(totals: dict[str, int]) -> list[UsageCost]:
    return [UsageCost(usage_type="tokens", quantity=totals["tokens"], cost_cents=0),
            UsageCost(usage_type="spans", quantity=totals["spans"], cost_cents=0)]  # fmt: skip


def _project(project: Project, usage: Usage) -> ProjectUsage:
    return ProjectUsage(
        project_id=project.id, project_name=project.name, tokens=usage.tokens, spans=usage.spans,
        token_cost=0, span_cost=0, total_cost=0,
    )  # fmt: skip
