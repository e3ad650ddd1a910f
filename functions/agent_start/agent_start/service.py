"""Starting a session: the checks of seed 001 §1/§7/§8 and the insert, all in the caller's one transaction."""

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from agent_start.schemas import StartRequest, StartResponse, StepOut
from agentmode import rate_limits, runner_credentials
from agentmode.db import Connection, jsonb, user_transaction
from agentmode.errors import AppError, ErrorCode
from agentmode.identity import AuthUser
from agentmode.runner_queue import RunnerCredential, RunnerQueue, StartMessage
from agentmode.sessions import DEFAULT_RUN_ESTIMATE_MS, STEPS, TOTAL_STEPS
from agentmode.settings import Settings


@dataclass(frozen=True)
class StartOutcome:
    response: StartResponse
    replayed: bool


class _LostIdempotencyRace(Exception):
    """A concurrent request with the same Idempotency-Key committed first: undo ours and answer with theirs."""


def request_hash(request: StartRequest) -> str:
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def response_for(session: dict[str, Any]) -> StartResponse:
    return StartResponse(
        session_id=session["id"],
        status=session["status"],
        estimated_completion_time_ms=DEFAULT_RUN_ESTIMATE_MS,
        steps=[StepOut(step_index=s.index, step_name=s.name, status="queued") for s in STEPS],
    )


def _session_by_key(conn: Connection, key: str) -> dict[str, Any] | None:
    return conn.execute(
        "SELECT * FROM agentmode.agent_sessions WHERE user_id = auth.uid() AND idempotency_key = %s",
        (key,),
    ).fetchone()


def _replay(session: dict[str, Any], fingerprint: str) -> StartOutcome:
    if session["request_hash"] != fingerprint:
        raise AppError(ErrorCode.IDEMPOTENCY_KEY_REUSED)
    return StartOutcome(response_for(session), replayed=True)


def _require_brand_memory(conn: Connection, user_id: UUID) -> None:
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM agentmode.agent_memory WHERE user_id = %s AND memory_type = 'brand_memory'"
        " AND (expires_at IS NULL OR expires_at > now())) AS present",
        (user_id,),
    ).fetchone()
    if not (row and row["present"]):
        raise AppError(ErrorCode.MISSING_BRAND_MEMORY)


def _debit_credits(conn: Connection, user_id: UUID, cost: int) -> None:
    row = conn.execute("SELECT agentmode.debit_credits(%s, %s) AS balance", (user_id, cost)).fetchone()
    if row is None or row["balance"] is None:
        balance = conn.execute("SELECT balance FROM agentmode.credit_balances WHERE user_id = %s", (user_id,)).fetchone()
        raise AppError(
            ErrorCode.INSUFFICIENT_CREDITS,
            details={"required": cost, "balance": balance["balance"] if balance else 0},
        )


def _insert_session(
    conn: Connection, user_id: UUID, request: StartRequest, cost: int, key: str | None, fingerprint: str, settings: Settings
) -> dict[str, Any]:
    session_data = request.model_dump(mode="json")
    row = conn.execute(
        "INSERT INTO agentmode.agent_sessions"
        " (user_id, total_steps, session_data, credits_charged, idempotency_key, request_hash, deadline_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, now() + make_interval(secs => %s))"
        " ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING *",
        (user_id, TOTAL_STEPS, jsonb(session_data), cost, key, fingerprint, settings.run_max_seconds),
    ).fetchone()
    if row is None:
        raise _LostIdempotencyRace
    return row


def _create(
    conn: Connection,
    user: AuthUser,
    request: StartRequest,
    key: str | None,
    fingerprint: str,
    settings: Settings,
    queue: RunnerQueue,
) -> StartOutcome:
    if key is not None and (existing := _session_by_key(conn, key)) is not None:
        return _replay(existing, fingerprint)
    _require_brand_memory(conn, user.id)
    # Free or pro daily runs: the policy table picks the limit by agentmode.user_plan (any pro organization).
    rate_limits.enforce(conn, rate_limits.AGENT_START)
    cost = settings.credits_per_video * request.constraints.max_videos
    _debit_credits(conn, user.id, cost)
    session = _insert_session(conn, user.id, request, cost, key, fingerprint, settings)
    # Sent before the commit: if SQS fails the whole start rolls back and the client retries with its key. A runner
    # that takes the message at once waits on this lock until the commit; if the commit fails, it finds no session
    # and drops the message (docs/runner.md).
    conn.execute("SELECT agentmode.hold_session_start(%s)", (session["id"],))
    token = runner_credentials.issue(session["id"], user.id, session["deadline_at"], settings)
    queue.send(
        StartMessage(
            session_id=session["id"],
            user_id=user.id,
            goal=request.goal,
            reference_video_url=str(request.reference_video_url) if request.reference_video_url else None,
            constraints=request.constraints.model_dump(),
            deadline_at=session["deadline_at"],
            credential=RunnerCredential(token=token, expires_at=session["deadline_at"]),
        )
    )
    return StartOutcome(response_for(session), replayed=False)


def start_session(user: AuthUser, request: StartRequest, key: str | None, settings: Settings, queue: RunnerQueue) -> StartOutcome:
    fingerprint = request_hash(request)
    try:
        with user_transaction(user) as conn:
            return _create(conn, user, request, key, fingerprint, settings, queue)
    except _LostIdempotencyRace:
        assert key is not None
        with user_transaction(user) as conn:
            existing = _session_by_key(conn, key)
            assert existing is not None
            return _replay(existing, fingerprint)
