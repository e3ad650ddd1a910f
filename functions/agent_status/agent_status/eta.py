"""When a session should finish, extrapolated from its own pace."""

from datetime import datetime, timedelta

from agentmode.sessions import DEFAULT_RUN_ESTIMATE_MS, TERMINAL_STATUSES


def estimate_completion(
    started_at: datetime, progress: int, status: str, completed_at: datetime | None, now: datetime
) -> datetime | None:
    """Elapsed time scaled by the remaining share of the work: the estimate narrows as progress grows.

    (The seed's `started + 5 min * 100 / progress` grows without bound as progress falls towards 0.)
    """
    if status in TERMINAL_STATUSES:
        return completed_at
    if progress <= 0:
        return max(now, started_at + timedelta(milliseconds=DEFAULT_RUN_ESTIMATE_MS))
    elapsed = max(now - started_at, timedelta(0))
    return now + elapsed * (100 - progress) / progress
