"""What Supabase Realtime pushes to a client joined to a private channel, read from the local stand-in of its
schema (local/sql/realtime_standin.sql): the join is checked the way Realtime checks it (the client's JWT claims as
`authenticated`, `realtime.topic()` set to the channel, a SELECT on realtime.messages under RLS), so the stream shows
exactly what the migrations' policy lets that user receive."""

from typing import Any

from agentmode.db import user_transaction
from agentmode.identity import AuthUser


def channel_messages(user: AuthUser, topic: str, after_seq: int) -> list[dict[str, Any]]:
    """The channel's broadcasts with a larger `seq`, in seq order; none at all when the policy refuses the join."""
    with user_transaction(user) as conn:
        conn.execute("SELECT set_config('realtime.topic', %s, true)", (topic,))
        rows = conn.execute(
            "SELECT event, payload FROM realtime.messages WHERE topic = %s AND (payload ->> 'seq')::bigint > %s"
            " ORDER BY (payload ->> 'seq')::bigint",
            (topic, after_seq),
        ).fetchall()
    return [{"event": row["event"], "payload": row["payload"]} for row in rows]
