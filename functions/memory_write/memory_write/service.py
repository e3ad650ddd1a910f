"""Writing a memory: check the quota without spending it, embed outside any transaction, then count and upsert together."""

from agentmode import rate_limits
from agentmode.db import jsonb, user_transaction
from agentmode.identity import AuthUser
from agentmode.memory import ready_embedder, vector_parameter
from agentmode.settings import Settings
from memory_write.schemas import MemoryOut, WriteMemoryRequest, WriteMemoryResponse


def write_memory(user: AuthUser, request: WriteMemoryRequest, settings: Settings, include_embedding: bool) -> WriteMemoryResponse:
    # A look first: a user over the limit must not make us pay for an embedding.
    rate_limits.peek(user.id, rate_limits.MEMORY_WRITE)
    vector = ready_embedder(settings).embed(request.content)
    with user_transaction(user) as conn:
        rate_limits.enforce(conn, rate_limits.MEMORY_WRITE)
        row = conn.execute(
            "INSERT INTO agentmode.agent_memory (user_id, memory_type, content, embedding, metadata, expires_at)"
            " VALUES (%s, %s, %s, %b::vector, %s, %s)"
            " ON CONFLICT (user_id, memory_type, content_hash) DO UPDATE SET embedding = EXCLUDED.embedding,"
            " metadata = EXCLUDED.metadata, expires_at = EXCLUDED.expires_at, updated_at = now()"
            " RETURNING id, user_id, memory_type, content, embedding::text AS embedding_text, metadata, expires_at,"
            " created_at, updated_at, (xmax = 0) AS inserted",
            (
                user.id,
                request.memory_type,
                request.content,
                vector_parameter(conn, vector),
                jsonb(request.metadata),
                request.expires_at,
            ),
        ).fetchone()
    assert row is not None
    memory = MemoryOut(
        id=row["id"],
        user_id=row["user_id"],
        memory_type=row["memory_type"],
        content=row["content"],
        embedding=vector if include_embedding else None,
        metadata=row["metadata"],
        expires_at=row["expires_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
    return WriteMemoryResponse(memory=memory, deduplicated=not row["inserted"])
