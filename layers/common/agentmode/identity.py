"""Who a request acts for, once its token is verified (agentmode.auth, agentmode.runner_auth). Apart from them so
that code acting for a user without a token (the run sweeper) holds no token key."""

from dataclasses import dataclass
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class AuthUser:
    id: UUID
    role: str
    email: str | None
    # What reaches request.jwt.claims, which RLS and the database's own checks read.
    claims: dict[str, Any]
    # Set for a runner credential (agentmode.runner_credentials): the one session it acts on, as the session's user.
    runner_session: UUID | None = None
