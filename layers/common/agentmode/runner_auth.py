"""The routes a runner may call too (docs/runner.md): they accept the session user's token or that session's runner
credential. Kept apart from agentmode.auth so that only these functions hold the runner key (RUNNER_TOKEN_SECRET)."""

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request

from agentmode import runner_credentials
from agentmode.auth import admitted_user, is_runner_credential, request_token, token_header, verify_token
from agentmode.db import login_statement
from agentmode.errors import AppError, ErrorCode
from agentmode.identity import AuthUser
from agentmode.observability import logger
from agentmode.sessions import TERMINAL_STATUSES
from agentmode.settings import get_settings


def _runner(token: str) -> AuthUser:
    runner = runner_credentials.verify(token, get_settings())
    claims = {
        "sub": str(runner.user_id),
        "role": "authenticated",
        "aud": runner_credentials.RUNNER_AUDIENCE,
        runner_credentials.RUNNER_CLAIM: str(runner.session_id),
    }
    return AuthUser(id=runner.user_id, role="authenticated", email=None, claims=claims, runner_session=runner.session_id)


def _admitted_runner(runner: AuthUser) -> AuthUser:
    """A runner acts only while its session runs: once it completed, failed or was cancelled the credential is
    refused, whatever its `exp`. Its requests are the run's, not the user's API calls (seed 001 §8 counts those)."""
    row = login_statement("SELECT agentmode.runner_session_status(%s, %s) AS status", (runner.runner_session, runner.id))
    status = row["status"] if row else None
    if status is None or status in TERMINAL_STATUSES:
        raise AppError(ErrorCode.UNAUTHORIZED, details={"reason": "the session of this runner credential has ended"})
    logger.append_keys(user_id=str(runner.id), session_id=str(runner.runner_session), caller="runner")
    return runner


async def get_user_or_runner(request: Request) -> AuthUser:  # async: see agentmode.app_factory.create_app
    token = request_token(request)
    if is_runner_credential(token_header(token)):
        return _admitted_runner(_runner(token))
    return admitted_user(verify_token(token, get_settings()))


def require_session_scope(caller: AuthUser, session_id: UUID) -> None:
    """A runner names only its own session; any other is as missing to it as another user's (RLS agrees)."""
    if caller.runner_session is not None and caller.runner_session != session_id:
        raise AppError(ErrorCode.SESSION_NOT_FOUND, details={"session_id": str(session_id)})


def refuse_runner(caller: AuthUser, action: str) -> None:
    """What a runner may not do on a route it may call (e.g. write the user's brand memory)."""
    if caller.runner_session is not None:
        raise AppError(ErrorCode.ROLE_NOT_ALLOWED, details={"reason": f"a runner credential may not {action}"})


UserOrRunner = Annotated[AuthUser, Depends(get_user_or_runner)]
