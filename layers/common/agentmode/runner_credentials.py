"""Runner credentials: a short-lived HS256 JWT per agent session, so the runner that takes a start message can report
that one session's events without ever holding the user's token.

Signed with RUNNER_TOKEN_SECRET (its own secret: a Supabase token can never pass for one, nor one for a Supabase
token at Supabase's own APIs), audience `agentmode-runner`, the session's user as `sub`, the session as
`runner_session`, expiring at the run's deadline. What it may do is docs/runner.md's table: agentmode.runner_auth
enforces it per route and the database per row (the `runner_session` claim, migration 20261203000000_runner_loop.sql).
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import jwt

from agentmode.auth import RUNNER_KEY_ID
from agentmode.errors import AppError, ErrorCode
from agentmode.runtime_secrets import secret_value
from agentmode.settings import Settings

RUNNER_AUDIENCE = "agentmode-runner"
RUNNER_ISSUER = "agentmode"
RUNNER_CLAIM = "runner_session"
CLOCK_SKEW_SECONDS = 5
MIN_SECRET_LENGTH = 32
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class RunnerClaims:
    user_id: UUID
    session_id: UUID


def _secret(settings: Settings) -> str:
    """The signing key; not configured (or too short to resist guessing) is a 503 naming the setting."""
    secret = secret_value("runner_token_secret", settings)
    if len(secret) < MIN_SECRET_LENGTH or secret == secret_value("supabase_jwt_secret", settings):
        raise AppError(
            ErrorCode.SERVICE_UNAVAILABLE,
            details={"service": "runner_credentials", "reason": "RUNNER_TOKEN_SECRET not configured"},
        )
    return secret


def issue(session_id: UUID, user_id: UUID, expires_at: datetime, settings: Settings) -> str:
    claims: dict[str, Any] = {
        "iss": RUNNER_ISSUER,
        "aud": RUNNER_AUDIENCE,
        "sub": str(user_id),
        RUNNER_CLAIM: str(session_id),
        "exp": int(expires_at.timestamp()),
        "iat": int(datetime.now(expires_at.tzinfo).timestamp()),
    }
    return jwt.encode(claims, _secret(settings), algorithm="HS256", headers={"kid": RUNNER_KEY_ID})


def _unauthorized(reason: str) -> AppError:
    return AppError(ErrorCode.UNAUTHORIZED, details={"reason": reason})


def verify(token: str, settings: Settings) -> RunnerClaims:
    try:
        claims = jwt.decode(
            token,
            _secret(settings),
            algorithms=["HS256"],
            audience=RUNNER_AUDIENCE,
            issuer=RUNNER_ISSUER,
            options={"require": ["exp", "sub", "aud", "iss", RUNNER_CLAIM]},
            leeway=CLOCK_SKEW_SECONDS,
        )
    except jwt.PyJWTError as exc:
        raise _unauthorized(type(exc).__name__) from None
    subject, session = claims["sub"], claims[RUNNER_CLAIM]
    # Issued by us in canonical form: anything else was not.
    if not (isinstance(subject, str) and _UUID.fullmatch(subject) and isinstance(session, str) and _UUID.fullmatch(session)):
        raise _unauthorized("malformed runner claims")
    return RunnerClaims(user_id=UUID(subject), session_id=UUID(session))
