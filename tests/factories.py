"""Test data: users with the rows a scenario needs, each with fresh ids so tests run in any order."""

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from local.token import mint_token

TEST_JWT_SECRET = "test-secret-for-hs256-tokens-at-least-32-bytes"
TEST_RUNNER_SECRET = "test-secret-of-runner-credentials-32-bytes-long"


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


def create_user(
    admin: psycopg.Connection[Any],
    *,
    brand_memory: bool = True,
    credits: int = 100,  # noqa: A002 - the domain word
    plan: str | None = None,
) -> User:
    """A user with (by default) brand memory and 100 credits; `plan` also makes them owner of an org on that plan."""
    user_id = uuid.uuid4()
    admin.execute(
        "INSERT INTO auth.users (id, email, email_confirmed_at) VALUES (%s, %s, now())", (user_id, f"{user_id}@test.local")
    )
    if brand_memory:
        add_memory(admin, user_id)
    admin.execute("INSERT INTO agentmode.credit_balances (user_id, balance) VALUES (%s, %s)", (user_id, credits))
    if plan is not None:
        org_id = admin.execute(
            "INSERT INTO agentmode.orgs (name, prem_status) VALUES (%s, %s) RETURNING id", (f"org {user_id}", plan)
        ).fetchone()[0]
        admin.execute("INSERT INTO agentmode.user_orgs (user_id, org_id, role) VALUES (%s, %s, 'owner')", (user_id, org_id))
    return User(user_id, mint_token(user_id, TEST_JWT_SECRET))


def add_memory(
    admin: psycopg.Connection[Any], user_id: uuid.UUID, *, memory_type: str = "brand_memory", expires_in: str | None = None
) -> None:
    admin.execute(
        "INSERT INTO agentmode.agent_memory (user_id, memory_type, content, metadata, expires_at)"
        " VALUES (%s, %s, 'Brand voice: calm and clear.', %s, now() + %s::interval)",
        (user_id, memory_type, Jsonb({"source": "test"}), expires_in),
    )


def create_session(admin: psycopg.Connection[Any], user_id: uuid.UUID, **columns: Any) -> uuid.UUID:
    names = ["user_id", *columns]
    values = [user_id, *columns.values()]
    row = admin.execute(
        f"INSERT INTO agentmode.agent_sessions ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))}) RETURNING id",
        values,
    ).fetchone()
    return row[0]
