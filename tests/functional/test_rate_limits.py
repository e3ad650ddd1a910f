"""Seed 001 §8's per-user limits: each action counted on its own, in its own window, exactly at the last slot, with the
limits read from agentmode.rate_limit_policies (never from the caller)."""

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from agentmode import rate_limits
from agentmode.db import Connection, close_connection, service_transaction, user_transaction
from agentmode.errors import AppError, ErrorCode
from agentmode.identity import AuthUser
from tests.factories import User


def as_user(user: User) -> AuthUser:
    return AuthUser(id=user.id, role="authenticated", email=None, claims={"sub": str(user.id), "role": "authenticated"})


def fill(admin: psycopg.Connection[Any], user: User, action: str, count: int, age: str = "0 seconds") -> None:
    admin.execute(
        "INSERT INTO agentmode.rate_limit_hits (user_id, action, hit_at)"
        " SELECT %s, %s, now() - %s::interval FROM generate_series(1, %s)",
        (user.id, action, age, count),
    )


def take(user: User, action: str) -> int:
    with user_transaction(as_user(user)) as conn:
        return rate_limits.enforce(conn, action)


def refused(user: User, action: str) -> AppError:
    with pytest.raises(AppError) as raised:
        take(user, action)
    assert raised.value.code is ErrorCode.RATE_LIMIT_EXCEEDED
    return raised.value


@pytest.fixture
def test_policy(admin: psycopg.Connection[Any]) -> Iterator[str]:
    action = "test_" + uuid.uuid4().hex[:16].translate(str.maketrans("0123456789", "ghijklmnop"))
    admin.execute(
        "INSERT INTO agentmode.rate_limit_policies (action, plan, limit_count, window_seconds) VALUES (%s, 'any', 3, 60)",
        (action,),
    )
    yield action
    admin.execute("DELETE FROM agentmode.rate_limit_policies WHERE action = %s", (action,))


def test_a_policy_counts_exactly_up_to_its_limit(user: User, test_policy: str) -> None:
    assert [take(user, test_policy) for _ in range(3)] == [2, 1, 0]
    error = refused(user, test_policy)
    assert error.details["limit"] == 3
    assert error.details["window_seconds"] == 60
    assert 0 < error.details["retry_after_ms"] <= 60_000


def test_uses_older_than_the_window_no_longer_count(admin: psycopg.Connection[Any], user: User, test_policy: str) -> None:
    fill(admin, user, test_policy, 3, age="61 seconds")
    assert take(user, test_policy) == 2


def test_a_refused_use_is_not_counted(admin: psycopg.Connection[Any], user: User, test_policy: str) -> None:
    fill(admin, user, test_policy, 3)
    refused(user, test_policy)
    count = admin.execute(
        "SELECT count(*) FROM agentmode.rate_limit_hits WHERE user_id = %s AND action = %s", (user.id, test_policy)
    ).fetchone()[0]
    assert count == 3


@pytest.mark.parametrize(
    ("action", "limit", "inside", "outside"),
    [
        (rate_limits.MEMORY_WRITE, 100, "59 minutes", "61 minutes"),
        (rate_limits.MEMORY_READ, 500, "59 minutes", "61 minutes"),
        (rate_limits.AGENT_START, 10, "23 hours", "25 hours"),
    ],
)
def test_each_seed_limit_has_its_count_and_window(
    admin: psycopg.Connection[Any], user: User, action: str, limit: int, inside: str, outside: str
) -> None:
    fill(admin, user, action, limit - 1, age=inside)
    fill(admin, user, action, 5, age=outside)
    assert take(user, action) == 0
    assert refused(user, action).details["limit"] == limit


def test_a_pro_user_gets_fifty_runs_a_day(admin: psycopg.Connection[Any], user: User) -> None:
    org = admin.execute("INSERT INTO agentmode.orgs (name, prem_status) VALUES ('pro', 'pro') RETURNING id").fetchone()[0]
    admin.execute("INSERT INTO agentmode.user_orgs (user_id, org_id, role) VALUES (%s, %s, 'owner')", (user.id, org))
    fill(admin, user, rate_limits.AGENT_START, 49, age="23 hours")
    assert take(user, rate_limits.AGENT_START) == 0
    assert refused(user, rate_limits.AGENT_START).details["limit"] == 50


def test_actions_are_counted_separately(admin: psycopg.Connection[Any], user: User) -> None:
    fill(admin, user, rate_limits.MEMORY_READ, 500)
    assert take(user, rate_limits.MEMORY_WRITE) == 99
    assert take(user, rate_limits.AGENT_START) == 9
    refused(user, rate_limits.MEMORY_READ)


def test_users_are_counted_separately(admin: psycopg.Connection[Any], user: User, other_user: User) -> None:
    fill(admin, other_user, rate_limits.MEMORY_WRITE, 100)
    assert take(user, rate_limits.MEMORY_WRITE) == 99


def test_concurrent_requests_never_share_the_last_slot(admin: psycopg.Connection[Any], user: User, test_policy: str) -> None:
    fill(admin, user, test_policy, 2)
    racers = 6
    barrier = threading.Barrier(racers)
    outcomes: list[str] = []

    def race() -> None:
        barrier.wait()
        try:
            with user_transaction(as_user(user)) as conn:
                rate_limits.enforce(conn, test_policy)
                time.sleep(0.2)  # hold the slot uncommitted while the others count
            outcomes.append("taken")
        except AppError:
            outcomes.append("refused")
        finally:
            close_connection()

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * (racers - 1) + ["taken"]


def test_an_unknown_action_is_an_error_not_a_free_pass(user: User) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        take(user, "no_such_action")


# Defence in depth: what the `authenticated` role may do with SQL of its own (as through a misconfigured Data API).


def test_users_cannot_call_the_rate_limit_counter_with_a_limit_of_their_choosing(user: User) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege), user_transaction(as_user(user)) as conn:
        conn.execute("SELECT * FROM agentmode.check_rate_limit(%s, 'agent_start', 1000000, 1)", (user.id,))


def test_users_cannot_read_or_change_the_policies(user: User) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege), user_transaction(as_user(user)) as conn:
        conn.execute("UPDATE agentmode.rate_limit_policies SET limit_count = 1000000")


def test_users_cannot_reset_their_own_uses(admin: psycopg.Connection[Any], user: User) -> None:
    fill(admin, user, rate_limits.MEMORY_WRITE, 100)
    with pytest.raises(psycopg.errors.InsufficientPrivilege), user_transaction(as_user(user)) as conn:
        conn.execute("DELETE FROM agentmode.rate_limit_hits WHERE user_id = %s", (user.id,))
    refused(user, rate_limits.MEMORY_WRITE)


def test_users_cannot_count_api_calls_themselves(user: User) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege), user_transaction(as_user(user)) as conn:
        conn.execute("SELECT * FROM agentmode.take_api_call(%s)", (user.id,))


def test_a_zero_limit_refuses_every_use(admin: psycopg.Connection[Any], user: User, test_policy: str) -> None:
    """An operator switches an action off with limit 0: a 429 from the first use, never an error."""
    admin.execute("UPDATE agentmode.rate_limit_policies SET limit_count = 0 WHERE action = %s", (test_policy,))
    assert refused(user, test_policy).details["limit"] == 0


def quota_row(user: User, action: str) -> dict[str, Any]:
    with user_transaction(as_user(user)) as conn:
        row = conn.execute("SELECT * FROM agentmode.take_quota(%s)", (action,)).fetchone()
    assert row is not None
    return dict(row)


def test_a_taken_use_reports_what_is_left_and_no_wait(user: User, test_policy: str) -> None:
    row = quota_row(user, test_policy)
    assert (row["exceeded"], row["remaining"], row["retry_after_ms"]) == (False, 2, 0)


def test_a_refused_use_waits_until_the_oldest_use_leaves_the_window(admin: psycopg.Connection[Any], user: User) -> None:
    fill(admin, user, rate_limits.MEMORY_WRITE, 99, age="40 minutes")
    fill(admin, user, rate_limits.MEMORY_WRITE, 1, age="10 minutes")
    row = quota_row(user, rate_limits.MEMORY_WRITE)
    assert (row["exceeded"], row["remaining"]) == (True, 0)
    assert 20 * 60_000 - 1_000 <= row["retry_after_ms"] <= 20 * 60_000


def test_a_quota_is_only_taken_for_a_user_in_the_claims(test_policy: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege), service_transaction() as conn:
        conn.execute("SELECT * FROM agentmode.take_quota(%s)", (test_policy,))


def test_the_api_call_gate_counts_nothing_for_an_unknown_user(admin: psycopg.Connection[Any]) -> None:
    nobody = uuid.uuid4()
    row = admin.execute("SELECT * FROM agentmode.take_api_call(%s)", (nobody,)).fetchone()
    assert row == (False, False, 0, 0, 0)
    assert admin.execute("SELECT count(*) FROM agentmode.api_call_counts WHERE user_id = %s", (nobody,)).fetchone()[0] == 0


@pytest.mark.parametrize(("limit", "window"), [(-1, 60), (5, 0), (5, -1)])
def test_the_counter_refuses_a_limit_or_window_that_means_nothing(user: User, limit: int, window: int) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue), service_transaction() as conn:
        conn.execute("SELECT * FROM agentmode.check_rate_limit(%s, 'x', %s, %s)", (user.id, limit, window))


def test_the_counter_takes_the_smallest_meaningful_limit_and_window(user: User) -> None:
    with service_transaction() as conn:
        blocked = conn.execute("SELECT * FROM agentmode.check_rate_limit(%s, 'off', 0, 1)", (user.id,)).fetchone()
        allowed = conn.execute("SELECT * FROM agentmode.check_rate_limit(%s, 'once', 1, 1)", (user.id,)).fetchone()
    assert (blocked["exceeded"], allowed["exceeded"]) == (True, False)


def test_the_counter_acts_only_for_the_user_in_the_claims_even_for_a_privileged_caller(
    admin: psycopg.Connection[Any], user: User, other_user: User
) -> None:
    """Defence in depth, should its grants ever widen: claims of one user cannot spend another's quota."""
    claims = json.dumps({"sub": str(user.id), "role": "authenticated"})
    with admin.transaction():
        admin.execute("SELECT set_config('request.jwt.claims', %s, true)", (claims,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege), admin.transaction():
            admin.execute("SELECT * FROM agentmode.check_rate_limit(%s, 'memory_write', 100, 3600)", (other_user.id,))


def synchronous_commit(conn: Connection) -> str:
    row = conn.execute("SHOW synchronous_commit").fetchone()
    assert row is not None
    return str(row["synchronous_commit"])


def test_a_counters_only_transaction_commits_without_waiting_for_the_flush(user: User) -> None:
    with user_transaction(as_user(user), counters_only=True) as conn:
        assert synchronous_commit(conn) == "off"


def test_the_next_transaction_on_the_connection_commits_durably_again(user: User) -> None:
    with user_transaction(as_user(user), counters_only=True) as conn:
        rate_limits.enforce(conn, rate_limits.MEMORY_READ)
    with user_transaction(as_user(user)) as conn:
        assert synchronous_commit(conn) == "on"


def hits(admin: psycopg.Connection[Any], user: User, action: str) -> int:
    row = admin.execute(
        "SELECT count(*) FROM agentmode.rate_limit_hits WHERE user_id = %s AND action = %s", (user.id, action)
    ).fetchone()
    return int(row[0])


def peek_refusal(user: User, action: str) -> AppError:
    with pytest.raises(AppError) as raised:
        rate_limits.peek(user.id, action)
    assert raised.value.code is ErrorCode.RATE_LIMIT_EXCEEDED
    return raised.value


def test_a_peek_below_the_limit_passes_and_takes_nothing(admin: psycopg.Connection[Any], user: User, test_policy: str) -> None:
    fill(admin, user, test_policy, 2)

    rate_limits.peek(user.id, test_policy)

    assert hits(admin, user, test_policy) == 2


def test_a_peek_at_the_limit_is_refused_as_the_take_would_be(
    admin: psycopg.Connection[Any], user: User, test_policy: str
) -> None:
    fill(admin, user, test_policy, 3, age="10 seconds")

    peeked, taken = peek_refusal(user, test_policy), refused(user, test_policy)

    assert (peeked.details["limit"], peeked.details["window_seconds"]) == (3, 60)
    assert abs(peeked.details["retry_after_ms"] - taken.details["retry_after_ms"]) < 1000
    assert 49_000 <= peeked.details["retry_after_ms"] <= 50_000
    assert hits(admin, user, test_policy) == 3


def test_a_peek_ignores_uses_older_than_the_window(admin: psycopg.Connection[Any], user: User, test_policy: str) -> None:
    fill(admin, user, test_policy, 3, age="61 seconds")

    rate_limits.peek(user.id, test_policy)


def test_a_peek_reads_the_users_plan_as_the_take_does(admin: psycopg.Connection[Any], user: User) -> None:
    org = admin.execute("INSERT INTO agentmode.orgs (name, prem_status) VALUES ('pro', 'pro') RETURNING id").fetchone()[0]
    admin.execute("INSERT INTO agentmode.user_orgs (user_id, org_id, role) VALUES (%s, %s, 'owner')", (user.id, org))
    fill(admin, user, rate_limits.AGENT_START, 49, age="23 hours")
    rate_limits.peek(user.id, rate_limits.AGENT_START)
    fill(admin, user, rate_limits.AGENT_START, 1)

    assert peek_refusal(user, rate_limits.AGENT_START).details["limit"] == 50


def test_users_cannot_peek_at_quotas(user: User) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege), user_transaction(as_user(user)) as conn:
        conn.execute("SELECT * FROM agentmode.peek_quota(%s, 'memory_read')", (user.id,))
