"""The time range a request reads: defaults, validation, and the free plan's look-back limit."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from agentmode.errors import AppError, ErrorCode
from agentmode.membership import Plan
from agentmode.settings import Settings
from traces.schemas import TimeWindow


@dataclass(frozen=True)
class TimeRange:
    start_ns: int
    end_ns: int
    # True when the free plan's limit moved the start later than asked.
    plan_limited: bool = False

    def window(self) -> TimeWindow:
        """The range as the responses report it."""
        return TimeWindow(start_time=from_ns(self.start_ns), end_time=from_ns(self.end_ns), plan_limited=self.plan_limited)


NS_PER_DAY = 86_400 * 1_000_000_000


def to_ns(moment: datetime) -> int:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def from_ns(ns: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1_000)


def resolve_range(start: datetime | None, end: datetime | None, plan: Plan, settings: Settings, now: datetime) -> TimeRange:
    """[start, end): end defaults to now, start to `traces_default_days` before end. Times without a zone are UTC."""
    end_ns = to_ns(end) if end else to_ns(now)
    start_ns = to_ns(start) if start else end_ns - settings.traces_default_days * NS_PER_DAY
    if start_ns >= end_ns:
        raise AppError(ErrorCode.VALIDATION_ERROR, "start_time must be before end_time.", {"field": "start_time"})
    return within_plan(_queryable(start_ns), _queryable(end_ns), plan, settings, now)


def within_plan(start_ns: int, end_ns: int, plan: Plan, settings: Settings, now: datetime) -> TimeRange:
    """The part of [start, end) the plan sees at `now`: a start before the plan's floor moves up to it."""
    floor_ns = plan_floor_ns(plan, settings, now)
    if start_ns < floor_ns:
        return TimeRange(floor_ns, max(end_ns, floor_ns), plan_limited=True)
    return TimeRange(start_ns, end_ns)


def plan_floor_ns(plan: Plan, settings: Settings, now: datetime) -> int:
    """The earliest trace start the plan sees at `now`: the free plan looks back `traces_free_plan_days`."""
    if plan == "free":
        return to_ns(now) - settings.traces_free_plan_days * NS_PER_DAY
    return EARLIEST_NS


# The window the queries can read. Traces are summarised per ClickHouse Date (1970-01-01 to 2149-06-06) and read with a
# day either side; past those ends Date wraps around silently (1969-12-31 is 2149-06-06), as do the Int64 nanosecond
# parameters (3000-01-01 is read as 1830), so an unclamped year-1 start found no trace and a year-3000 window found
# today's. No span can be summarised outside the window, so clamping to it drops none.
EARLIEST_NS = to_ns(datetime(1970, 1, 2, tzinfo=UTC))
LATEST_NS = to_ns(datetime(2149, 6, 5, tzinfo=UTC))


def _queryable(ns: int) -> int:
    return min(max(ns, EARLIEST_NS), LATEST_NS)
