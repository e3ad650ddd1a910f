"""What memory_write and memory_read share: the memory types (seed 001 §4), the embedding check per container, and
the embedding as a query parameter."""

import struct
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

from psycopg.adapt import Dumper
from psycopg.pq import Format

from agentmode.db import Connection
from agentmode.embeddings import Embedder, check_dimension, embedder_for
from agentmode.settings import Settings

# brand_memory: the brand's voice, product and audience (agent_start requires one); preference: how the user likes
# things done; insight: something an agent learned; competitor: facts about a competitor; campaign_result: how a
# published campaign performed.
MemoryType = Literal["brand_memory", "preference", "insight", "competitor", "campaign_result"]
# What a runner may write (step 7, Update memory): what the run learned. The database holds the same rule for runner
# credentials (20261203000000_runner_loop.sql, agent_memory_runner_*); the tests hold the two together.
RUNNER_MEMORY_TYPES = ("insight", "campaign_result")

_checked_dimension = False


def ready_embedder(settings: Settings) -> Embedder:
    """The container's embedder, after a one-time check that the database column has the configured dimension."""
    global _checked_dimension
    if not _checked_dimension:
        check_dimension(settings)
        _checked_dimension = True
    return embedder_for(settings)


class PackedVector:
    """An embedding as a query parameter: a binary `real[]` (cast to `vector` in the SQL), not a text literal.
    Formatting 1,024 floats as text took ~0.4 ms of each memory request, and the server parsed them back; packing
    takes ~0.03 ms. pgvector stores single precision either way."""

    __slots__ = ("packed",)

    def __init__(self, values: Sequence[float]) -> None:
        count = len(values)
        fields = [_FLOAT4_SIZE, 0.0] * count
        fields[1::2] = values
        # Postgres' binary array: 1 dimension, no NULLs, element type, length and lower bound, then (size, value) pairs.
        self.packed = _array_layout(count).pack(1, 0, _FLOAT4_OID, count, 1, *fields)


_FLOAT4_OID = 700  # real: a built-in type, so its OIDs are the same in every database
_FLOAT4_ARRAY_OID = 1021
_FLOAT4_SIZE = 4


@lru_cache(maxsize=4)
def _array_layout(count: int) -> struct.Struct:
    return struct.Struct(">iiIii" + "if" * count)


class _PackedVectorDumper(Dumper):
    format = Format.BINARY
    oid = _FLOAT4_ARRAY_OID

    def dump(self, obj: PackedVector) -> bytes:
        return obj.packed


def vector_parameter(conn: Connection, values: Sequence[float]) -> PackedVector:
    """`values` for a `%b::vector` placeholder of a statement on `conn` (which learns, once, how to send it)."""
    conn.adapters.register_dumper(PackedVector, _PackedVectorDumper)
    return PackedVector(values)
