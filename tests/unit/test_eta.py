"""The completion estimate of GET /agent/status."""

from datetime import UTC, datetime, timedelta

from agent_status.eta import estimate_completion

STARTED = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)


def test_estimate_extrapolates_the_elapsed_pace() -> None:
    now = STARTED + timedelta(minutes=2)
    assert estimate_completion(STARTED, 40, "generating_concepts", None, now) == STARTED + timedelta(minutes=5)


def test_estimate_narrows_as_progress_grows() -> None:
    remaining = []
    for progress, minutes in ((10, 1), (50, 5), (90, 9)):
        now = STARTED + timedelta(minutes=minutes)
        eta = estimate_completion(STARTED, progress, "running", None, now)
        assert eta is not None
        remaining.append(eta - now)
    assert remaining == sorted(remaining, reverse=True)


def test_estimate_without_progress_uses_the_default_run_length() -> None:
    assert estimate_completion(STARTED, 0, "initializing", None, STARTED) == STARTED + timedelta(minutes=5)


def test_estimate_never_lies_in_the_past_without_progress() -> None:
    now = STARTED + timedelta(minutes=30)
    assert estimate_completion(STARTED, 0, "initializing", None, now) == now


def test_finished_session_reports_its_completion_time() -> None:
    done = STARTED + timedelta(minutes=4)
    assert estimate_completion(STARTED, 100, "completed", done, done + timedelta(hours=1)) == done
