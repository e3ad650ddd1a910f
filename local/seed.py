"""The demo seed: a user with brand memory, credits and a free organization, so every endpoint can be tried at once.

The demo user also has a small team, so that each /opsboard route has something to act on (events/*.json name these
ids): a teammate developer in the demo organization, an invite from a partner's organization, an organization without
projects to leave or delete, a second project to delete or re-key, and a run whose agent waits for an answer (to answer
or cancel). Running the seed again puts each of these back.
"""

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
# A run whose agent asks the demo user which concept to develop (seq 1): answered or cancelled by events/, then
# restored by every seed.
ASKING_SESSION_ID = UUID("5a7c1e2d-3b4f-4a6e-8d9c-0e1f2a3b4c5d")
DEMO_CREDITS = 100
# A developer of the demo organization: change-role and remove-member act on them.
TEAMMATE_USER_ID = UUID("8d0f3477-5d17-4d3f-b5e8-69a1db4e469f")
TEAMMATE_EMAIL = "teammate@agentmode.local"
# Owns Northwind Agency, which invites the demo user (accept-invite, decline-invite).
PARTNER_USER_ID = UUID("77428bb4-f3a2-4949-9a5c-f94418cb407d")
PARTNER_EMAIL = "partner@agentmode.local"
PARTNER_ORG_ID = UUID("ff9cf7ae-8431-43ae-87f9-88b71c4a5e94")
# Owned by the demo user and the partner, without projects: it can be deleted, and left without losing its last owner.
SANDBOX_ORG_ID = UUID("3da4425a-fac3-4af9-b088-7bb3d1d8006b")
# A second project of the demo organization, to delete and re-key while the demo project keeps its traces and key.
SCRATCH_PROJECT_ID = UUID("3257ba08-ab93-405e-894e-f24396d8825f")
INVITE_DAYS = 7
# Within the free plan's 3-day look-back, so the demo organization sees every one of them.
DEMO_TRACES = 60
DEMO_TRACE_DAYS = 2
DEMO_SPANS_PER_TRACE = 31
BRAND_MEMORY = (
    "Brand voice: professional yet approachable. TechFlow is a B2B SaaS that automates workflow approvals "
    "for operations teams; hooks that name a wasted-time pain point perform best."
)


def confirmed_user(conn: psycopg.Connection[Any], user_id: UUID, email: str) -> None:
    """A user whose e-mail is confirmed, which provisions their profile and personal organization (the auth.users
    trigger). A user seeded unconfirmed by an older seed is confirmed now, which provisions them the same way."""
    conn.execute(
        "INSERT INTO auth.users (id, email, email_confirmed_at) VALUES (%s, %s, now()) ON CONFLICT (id)"
        " DO UPDATE SET email_confirmed_at = coalesce(auth.users.email_confirmed_at, EXCLUDED.email_confirmed_at)",
        (user_id, email),
    )


def seed_user(conn: psycopg.Connection, user_id: UUID, email: str, *, credit_balance: int = DEMO_CREDITS) -> None:
    """Idempotent: running it again leaves one user, one brand memory, and tops the credits back up."""
    confirmed_user(conn, user_id, email)
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
        seed_team(conn)
        seed_asking_session(conn)
        if embed is not None:
            embed_missing(conn, embed)


def seed_asking_session(conn: psycopg.Connection[Any]) -> None:
    options = [{"value": "concept_1", "label": "Problem/solution"}, {"value": "agent_decide", "label": "You decide"}]
    question = {"event": "user_input_required", "session_id": str(ASKING_SESSION_ID), "seq": 1,
                "question": "Which concept should we develop?", "options": options, "timeout_ms": 86_400_000}  # fmt: skip
    conn.execute("DELETE FROM agentmode.agent_sessions WHERE id = %s", (ASKING_SESSION_ID,))
    conn.execute(
        "INSERT INTO agentmode.agent_sessions (id, user_id, status, current_step, current_step_index, last_seq, session_data)"
        " VALUES (%s, %s, 'awaiting_input', 'Generate concepts', 4, 1, %s)",
        (ASKING_SESSION_ID, devconfig.DEMO_USER_ID, Jsonb({"goal": "Demo: a run waiting for the user", "constraints": {}})),
    )
    conn.execute(
        "INSERT INTO agentmode.agent_execution_logs (session_id, user_id, seq, action_type, event_payload)"
        " VALUES (%s, %s, 1, 'user_input_required', %s)",
        (ASKING_SESSION_ID, devconfig.DEMO_USER_ID, Jsonb(question)),
    )
    conn.execute(
        "INSERT INTO agentmode.agent_questions (session_id, user_id, question_seq, options, default_value, asked_at, timeout_at)"
        " VALUES (%s, %s, 1, %s, 'agent_decide', now(), now() + interval '1 day')",
        (ASKING_SESSION_ID, devconfig.DEMO_USER_ID, Jsonb(options)),
    )


def seed_team(conn: psycopg.Connection[Any]) -> None:
    """The demo user's team (see the module's docstring); each run restores it, e.g. re-adds a removed teammate."""
    for user_id, email in ((TEAMMATE_USER_ID, TEAMMATE_EMAIL), (PARTNER_USER_ID, PARTNER_EMAIL)):
        confirmed_user(conn, user_id, email)
    conn.execute(
        "INSERT INTO agentmode.orgs (id, name) VALUES (%s, 'Northwind Agency'), (%s, 'Shared sandbox')"
        " ON CONFLICT (id) DO NOTHING",
        (PARTNER_ORG_ID, SANDBOX_ORG_ID),
    )
    conn.execute(
        "INSERT INTO agentmode.user_orgs (user_id, org_id, role)"
        " VALUES (%s, %s, 'developer'), (%s, %s, 'owner'), (%s, %s, 'owner'), (%s, %s, 'owner') ON CONFLICT DO NOTHING",
        (
            TEAMMATE_USER_ID, DEMO_ORG_ID, PARTNER_USER_ID, PARTNER_ORG_ID,
            PARTNER_USER_ID, SANDBOX_ORG_ID, devconfig.DEMO_USER_ID, SANDBOX_ORG_ID,
        ),
    )  # fmt: skip
    conn.execute(
        "INSERT INTO agentmode.projects (id, org_id, name) VALUES (%s, %s, 'Scratch project') ON CONFLICT (id) DO NOTHING",
        (SCRATCH_PROJECT_ID, DEMO_ORG_ID),
    )
    # Invited, not a member: an accepted or declined invite is opened again, so those routes can be tried again.
    conn.execute("DELETE FROM agentmode.user_orgs WHERE org_id = %s AND user_id = %s", (PARTNER_ORG_ID, devconfig.DEMO_USER_ID))
    conn.execute(
        "UPDATE agentmode.org_invites SET status = 'expired', closed_at = now()"
        " WHERE org_id = %s AND email = %s AND status = 'pending' AND expires_at <= now()",
        (PARTNER_ORG_ID, devconfig.DEMO_USER_EMAIL),
    )
    conn.execute(
        "INSERT INTO agentmode.org_invites (org_id, email, role, inviter_id, delivery, expires_at)"
        " SELECT %s, %s, 'developer', %s, 'in_app', now() + make_interval(days => %s)"
        " WHERE NOT EXISTS (SELECT 1 FROM agentmode.org_invites WHERE org_id = %s AND email = %s AND status = 'pending')",
        (PARTNER_ORG_ID, devconfig.DEMO_USER_EMAIL, PARTNER_USER_ID, INVITE_DAYS, PARTNER_ORG_ID, devconfig.DEMO_USER_EMAIL),
    )


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
