"""The demo seed: a user with brand memory, credits and a free organization, so every endpoint can be tried at once."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from local import devconfig
from local.trace_generator import TraceBatch, generate

if TYPE_CHECKING:  # the layer is on the path only where the functions run
    from agentmode.clickhouse import ClickHouse

DEMO_ORG_ID = UUID("2b9e4d1c-7a3f-4c2e-8d5b-1f0a9c8e7d61")
DEMO_PROJECT_ID = UUID("9c4f7e2a-1d3b-4a5c-8e6f-3b2d1a0c9e84")
# The session the checked-in events/*.json name, so `sam local invoke -e` and curl examples find it.
DEMO_SESSION_ID = UUID("d3a1f0c2-5e6b-4c7d-9e8f-a1b2c3d4e5f6")
DEMO_CREDITS = 100
# Within the free plan's 3-day look-back, so the demo organization sees every one of them.
DEMO_TRACES = 60
DEMO_TRACE_DAYS = 2
DEMO_SPANS_PER_TRACE = 31
BRAND_MEMORY = (
    "Brand voice: professional yet approachable. TechFlow is a B2B SaaS that automates workflow approvals "
    "for operations teams; hooks that name a wasted-time pain point perform best."
)


def seed_user(conn: psycopg.Connection, user_id: UUID, email: str, *, credit_balance: int = DEMO_CREDITS) -> None:
    """Idempotent: running it again leaves one user, one brand memory, and tops the credits back up."""
    conn.execute("INSERT INTO auth.users (id, email) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING", (user_id, email))
    conn.execute(
        "INSERT INTO agentmode.agent_memory (user_id, memory_type, content, metadata)"
        ' SELECT %s, \'brand_memory\', %s, \'{"brand_name": "TechFlow", "source": "demo_seed"}\''
        " WHERE NOT EXISTS (SELECT 1 FROM agentmode.agent_memory WHERE user_id = %s AND memory_type = 'brand_memory')",
        (user_id, BRAND_MEMORY, user_id),
    )
    conn.execute(
        "INSERT INTO agentmode.credit_balances (user_id, balance) VALUES (%s, %s)"
        " ON CONFLICT (user_id) DO UPDATE SET balance = greatest(agentmode.credit_balances.balance, EXCLUDED.balance)",
        (user_id, credit_balance),
    )


def embed_missing(conn: psycopg.Connection[Any], embed: Callable[[str], list[float]]) -> int:
    """Gives seeded memories their vectors (the seed writes SQL directly, not through memory_write). Returns how many."""
    rows = conn.execute("SELECT id, content FROM agentmode.agent_memory WHERE embedding IS NULL").fetchall()
    for memory_id, content in rows:
        conn.execute("UPDATE agentmode.agent_memory SET embedding = %s::vector WHERE id = %s", (str(embed(content)), memory_id))
    return len(rows)


def seed_demo(database_url: str, embed: Callable[[str], list[float]] | None = None) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        seed_user(conn, devconfig.DEMO_USER_ID, devconfig.DEMO_USER_EMAIL)
        conn.execute(
            "INSERT INTO agentmode.orgs (id, name) VALUES (%s, 'TechFlow (demo)') ON CONFLICT (id) DO NOTHING", (DEMO_ORG_ID,)
        )
        conn.execute(
            "INSERT INTO agentmode.user_orgs (user_id, org_id, role) VALUES (%s, %s, 'owner') ON CONFLICT DO NOTHING",
            (devconfig.DEMO_USER_ID, DEMO_ORG_ID),
        )
        conn.execute(
            "INSERT INTO agentmode.projects (id, org_id, name) VALUES (%s, %s, 'Demo project') ON CONFLICT (id) DO NOTHING",
            (DEMO_PROJECT_ID, DEMO_ORG_ID),
        )
        conn.execute(
            "INSERT INTO agentmode.agent_sessions (id, user_id, session_data) VALUES (%s, %s, %s) ON CONFLICT (id) DO NOTHING",
            (
                DEMO_SESSION_ID,
                devconfig.DEMO_USER_ID,
                Jsonb({"goal": "Demo: generate video ads for TechFlow", "constraints": {}}),
            ),
        )
        if embed is not None:
            embed_missing(conn, embed)


def seed_demo_traces(ch: "ClickHouse", now: datetime | None = None) -> int:
    """Agent traces for the demo project over the last two days, once; returns how many the project has."""
    params = {"project_id": str(DEMO_PROJECT_ID)}
    count_sql = "SELECT uniqExact(TraceId) AS traces FROM otel_trace_summaries WHERE project_id = {project_id:String}"
    if ch.query(count_sql, params)[0]["traces"] == 0:
        now = now or datetime.now(UTC)
        generate(
            ch, TraceBatch(str(DEMO_PROJECT_ID), DEMO_TRACES, DEMO_SPANS_PER_TRACE, now - timedelta(days=DEMO_TRACE_DAYS), now)
        )
    return int(ch.query(count_sql, params)[0]["traces"])


if __name__ == "__main__":
    seed_demo(devconfig.local_database_url())
    print(f"seeded demo user {devconfig.DEMO_USER_ID}")
