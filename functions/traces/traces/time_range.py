"""The time range a request reads: defaults, validation, and the free plan's look-back limit."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from agentmode.errors import AppError, ErrorCode
from agentmode.settings import Settings
from traces.access import Plan


@dataclass(frozen=True)
class TimeRange:
    start_ns: int
    end_ns: int
    # True when the free plan's limit moved the start later than asked.
    plan_limited: bool = False


def to_ns(moment: datetime) -> int:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def from_ns(ns: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1_000)


def resolve_range(
    start: datetime | None, end: datetime | None, plan: Plan, settings: Settings, now: datetime | None = None
) -> TimeRange:
    """[start, end): end defaults to now, start to `traces_default_days` before end. Times without a zone are UTC."""
    now = now or datetime.now(UTC)
    end_ns = to_ns(end) if end else to_ns(now)
    start_ns = to_ns(start) if start else end_ns - settings.traces_default_days * 86_400 * 1_000_000_000
    if start_ns >= end_ns:
        raise AppError(ErrorCode.VALIDATION_ERROR, "start_time must be before end_time.", {"field": "start_time"})
    if plan == "free":
        floor_ns = to_ns(now) - settings.traces_free_plan_days * 86_400 * 1_000_000_000
        if start_ns < floor_ns:
            return TimeRange(floor_ns, max(end_ns, floor_ns), plan_limited=True)
    return TimeRange(start_ns, end_ns)
