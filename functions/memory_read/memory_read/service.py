"""Reading memories: check the quota without spending it, embed the query, then count the read and search together."""

from agentmode import rate_limits
from agentmode.db import user_transaction
from agentmode.identity import AuthUser
from agentmode.memory import ready_embedder
from agentmode.settings import Settings
from memory_read.schemas import MemoryHit, ReadMemoryResponse
from memory_read.search import search


def read_memories(
    user: AuthUser, query: str, memory_type: str | None, limit: int, min_similarity: float | None, settings: Settings
) -> ReadMemoryResponse:
    # A look first: a user over the limit must not make us pay for an embedding.
    rate_limits.peek(user.id, rate_limits.MEMORY_READ)
    vector = ready_embedder(settings).embed(query)
    # The read's only write is its quota hit.
    with user_transaction(user, counters_only=True) as conn:
        rate_limits.enforce(conn, rate_limits.MEMORY_READ)
        rows = search(conn, user.id, vector, memory_type, limit, settings)
    return ReadMemoryResponse(
        results=[MemoryHit(**row) for row in rows if min_similarity is None or row["similarity"] >= min_similarity]
    )
