"""Arrangements the /opsboard tests share: organizations, memberships and calls through the handlers."""

import uuid
from typing import Any

import psycopg

from tests.factories import User
from tests.lambda_invoke import Result, invoke


def call(user: User, method: str, path: str, body: dict[str, Any] | None = None) -> Result:
    return invoke(method, path, headers=user.auth, json_body=body)


def personal_org(admin: psycopg.Connection[Any], user: User) -> uuid.UUID:
    """The organization the signup trigger made for the user."""
    row = admin.execute(
        "SELECT org_id FROM agentmode.user_orgs uo JOIN agentmode.orgs o ON o.id = uo.org_id"
        " WHERE uo.user_id = %s AND uo.role = 'owner' AND NOT o.is_demo ORDER BY o.created_at LIMIT 1",
        (user.id,),
    ).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


def add_member(admin: psycopg.Connection[Any], org_id: uuid.UUID, user: User, role: str) -> None:
    admin.execute("INSERT INTO agentmode.user_orgs (user_id, org_id, role) VALUES (%s, %s, %s)", (user.id, org_id, role))


def role_of(admin: psycopg.Connection[Any], org_id: uuid.UUID, user: User) -> str | None:
    row = admin.execute("SELECT role FROM agentmode.user_orgs WHERE org_id = %s AND user_id = %s", (org_id, user.id)).fetchone()
    return None if row is None else str(row[0])


def email_of(user: User) -> str:
    return f"{user.id}@test.local"
