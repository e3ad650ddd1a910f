"""The caller's profile row (agentmode.user_profiles) under RLS and its column grants, with Supabase Auth's e-mail."""

from typing import Any

from agentmode.db import Connection, jsonb
from agentmode.errors import AppError, ErrorCode
from opsboard_users.schemas import UserProfile, UserProfileUpdate

READ_SQL = """
SELECT p.user_id AS id, p.full_name, p.avatar_url, p.billing_address, p.payment_method, p.survey_is_complete,
       e.email, coalesce(e.verified, false) AS email_verified
  FROM agentmode.user_profiles p
  LEFT JOIN agentmode.my_auth_email() e ON true
 WHERE p.user_id = (SELECT auth.uid())
"""

# NULL keeps a column as it is (seed 000: only the fields given are applied).
UPDATE_SQL = """
UPDATE agentmode.user_profiles p
   SET full_name = coalesce(%(full_name)s, p.full_name),
       avatar_url = coalesce(%(avatar_url)s, p.avatar_url),
       billing_address = coalesce(%(billing_address)s, p.billing_address),
       payment_method = coalesce(%(payment_method)s, p.payment_method),
       survey_is_complete = coalesce(%(survey_is_complete)s, p.survey_is_complete),
       updated_at = now()
 WHERE p.user_id = (SELECT auth.uid())
"""

SURVEY_COMPLETE_SQL = """
UPDATE agentmode.user_profiles p SET survey_is_complete = true, updated_at = now()
 WHERE p.user_id = (SELECT auth.uid())
"""


def _missing() -> AppError:
    return AppError(ErrorCode.NOT_FOUND, "Profile not found.")


def read_profile(conn: Connection) -> UserProfile:
    row = conn.execute(READ_SQL).fetchone()
    if row is None:
        raise _missing()
    return UserProfile.model_validate(row)


def update_profile(conn: Connection, changes: UserProfileUpdate) -> None:
    if not changes.model_dump(exclude_none=True):
        return
    params: dict[str, Any] = changes.model_dump()
    for column in ("billing_address", "payment_method"):
        params[column] = jsonb(params[column]) if params[column] is not None else None
    if conn.execute(UPDATE_SQL, params).rowcount == 0:
        raise _missing()


def mark_survey_complete(conn: Connection) -> None:
    if conn.execute(SURVEY_COMPLETE_SQL).rowcount == 0:
        raise _missing()
