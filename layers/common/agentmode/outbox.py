"""Realtime outbox: broadcast a session's logged-but-unpublished events, in order, then mark them published."""

from uuid import UUID

from agentmode.db import user_transaction
from agentmode.errors import AppError
from agentmode.identity import AuthUser
from agentmode.observability import logger
from agentmode.realtime import Broadcaster, BroadcastMessage
from agentmode.sessions import topic_for

BATCH_SIZE = 100


def publish_pending(user: AuthUser, session_id: UUID, broadcaster: Broadcaster) -> int:
    """Returns how many events were broadcast; a failure leaves them pending and is never the caller's error."""
    try:
        with user_transaction(user) as conn:
            # One publisher per session at a time, so broadcasts leave in seq order even when a session's events are
            # logged concurrently (SKIP LOCKED let seq 5 go out while seq 4 was still being sent; bench/load.py saw
            # it). A waiting publisher waits at most one broadcast (REALTIME_TIMEOUT_SECONDS), then finds its rows
            # already sent or sends what is left.
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('agentmode.outbox:' || %s::text, 0))", (session_id,))
            rows = conn.execute(
                "SELECT id, seq, action_type, event_payload FROM agentmode.agent_execution_logs"
                " WHERE session_id = %s AND published_at IS NULL ORDER BY seq LIMIT %s",
                (session_id, BATCH_SIZE),
            ).fetchall()
            if not rows:
                return 0
            topic = topic_for(session_id)
            messages = [BroadcastMessage(topic=topic, event=row["action_type"], payload=row["event_payload"]) for row in rows]
            if not broadcaster.publish(messages):
                return 0
            conn.execute(
                "UPDATE agentmode.agent_execution_logs SET published_at = now() WHERE id = ANY(%s)",
                ([row["id"] for row in rows],),
            )
            return len(rows)
    except AppError as exc:
        logger.warning("realtime outbox skipped", extra={"error_code": exc.code.name, "session_id": str(session_id)})
        return 0
