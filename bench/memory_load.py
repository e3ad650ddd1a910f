"""Loading bench.memory's corpus: binary COPY, and the HNSW index built after it.

Imported by bench.memory, which first puts the layer and memory_read on the import path (as Lambda does).
"""

import re
import struct
import time
import uuid
from typing import Any

import psycopg

from bench.errors import BenchError
from bench.memory_config import COPY_CHUNK_ROWS, HNSW_INDEX, MAINTENANCE_WORK_MEM, MEMORY_MIGRATION, TABLE
from bench.memory_data import (
    DIMENSION,
    Batch,
)

COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
COPY_SQL = f"COPY {TABLE} (id, user_id, memory_type, content, embedding) FROM STDIN (FORMAT BINARY)"


def encode_copy(batch: Batch) -> list[bytes]:
    """Binary COPY tuples (pgvector's binary form: int16 dims, int16 unused, big-endian float4s), encoded before the
    clock starts so the load figure is the database's, not Python's."""
    vector_header = struct.pack(">ihh", 4 + 4 * DIMENSION, DIMENSION, 0)
    big_endian = batch.vectors.astype(">f4")
    chunks = []
    for start in range(0, len(batch.ids), COPY_CHUNK_ROWS):
        rows = []
        for i in range(start, min(start + COPY_CHUNK_ROWS, len(batch.ids))):
            kind, content = batch.types[i].encode(), batch.contents[i].encode()
            ids = struct.pack(">hi16si16si", 5, 16, batch.ids[i].bytes, 16, batch.users[i].bytes, len(kind))
            text = kind + struct.pack(">i", len(content)) + content
            rows.append(ids + text + vector_header + big_endian[i].tobytes())
        chunks.append(b"".join(rows))
    return chunks


def add_auth_users(admin: psycopg.Connection[Any], users: list[uuid.UUID]) -> None:
    with admin.cursor().copy("COPY auth.users (id, email) FROM STDIN") as copy:
        for user in users:
            copy.write_row((user, f"{user}@bench.local"))


def bulk_load(admin: psycopg.Connection[Any], batch: Batch) -> dict[str, Any]:
    """One binary COPY as the admin (an import bypasses RLS), with no HNSW index on the table: it is built after."""
    chunks = encode_copy(batch)
    started = time.perf_counter()
    with admin.cursor().copy(COPY_SQL) as copy:
        copy.write(COPY_HEADER)
        for chunk in chunks:
            copy.write(chunk)
        copy.write(COPY_TRAILER)
    seconds = time.perf_counter() - started
    size = sum(map(len, chunks))
    return {
        "rows": len(batch.ids),
        "seconds": round(seconds, 2),
        "rows_per_s": round(len(batch.ids) / seconds),
        "mb_per_s": round(size / seconds / 1e6, 1),
    }


def hnsw_definition() -> str:
    """The migration's own CREATE INDEX, so the bench builds whatever m / ef_construction the migration says."""
    match = re.search(rf"CREATE INDEX {HNSW_INDEX}\b.*?;", MEMORY_MIGRATION.read_text(), flags=re.DOTALL)
    if match is None:
        raise BenchError(f"no `CREATE INDEX {HNSW_INDEX}` in {MEMORY_MIGRATION.name}")
    return match.group(0)


def drop_hnsw(admin: psycopg.Connection[Any]) -> None:
    admin.execute(f"DROP INDEX IF EXISTS agentmode.{HNSW_INDEX}")


def vacuum_analyze(admin: psycopg.Connection[Any], table: str = TABLE) -> None:
    """Statistics for the planner and an all-visible map, so the capped count is an index-only scan."""
    admin.execute(f"VACUUM (ANALYZE) {table}".encode())


def build_hnsw(admin: psycopg.Connection[Any]) -> dict[str, Any]:
    """Built after loading (far faster than growing it row by row), with pgvector's notices kept: one says when the
    graph outgrew maintenance_work_mem."""
    notices: list[str] = []

    def keep(diagnostic: psycopg.errors.Diagnostic) -> None:
        notices.append(str(diagnostic.message_primary))

    admin.add_notice_handler(keep)
    definition = hnsw_definition()
    admin.execute(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'".encode())
    started = time.perf_counter()
    admin.execute(definition.encode())
    seconds = time.perf_counter() - started
    admin.execute(b"RESET maintenance_work_mem")
    admin.execute(b"CHECKPOINT")  # the build's writes flushed now, not while the searches are timed
    admin.remove_notice_handler(keep)
    size = admin.execute("SELECT pg_relation_size(%s::regclass)", (f"agentmode.{HNSW_INDEX}",)).fetchone()
    return {
        "definition": " ".join(definition.split()),
        "seconds": round(seconds, 1),
        "size_mb": round((size[0] if size else 0) / 2**20),
        "maintenance_work_mem": MAINTENANCE_WORK_MEM,
        "notices": notices,
    }


def table_sizes(admin: psycopg.Connection[Any]) -> dict[str, int]:
    row = admin.execute(
        "SELECT count(*), pg_relation_size(%(t)s::regclass), pg_table_size(%(t)s::regclass), pg_indexes_size(%(t)s::regclass)"
        f" FROM {TABLE}",
        {"t": TABLE},
    ).fetchone()
    assert row is not None
    rows, heap, table, indexes = row
    return {"rows": rows, "heap_mb": heap >> 20, "toast_mb": (table - heap) >> 20, "indexes_mb": indexes >> 20}
