"""bench.memory's knobs, in one place: sizes, query counts and targets."""

from local.stack import MIGRATIONS_DIR, ROOT

WRITE_FUNCTION_DIR = ROOT / "functions" / "memory_write"
TABLE = "agentmode.agent_memory"
INLINE_TABLE = "agentmode.agent_memory_inline"
HNSW_INDEX = "agent_memory_embedding_hnsw_idx"
MEMORY_MIGRATION = MIGRATIONS_DIR / "20261125000500_agent_memory.sql"
JWT_SECRET = "bench-only-hs256-secret-of-at-least-32-bytes"  # noqa: S105 - signs tokens for a throwaway database


K = 10
QUERIES = 200
QUERY_USERS = 10  # the small-user queries rotate over this many users, as a container serving many users sees them
WARMUP = 10
POWER_EXACT_QUERIES = 10  # the power user's exact scan takes most of a second a query
EF_SWEEP = (40, 64, 100, 200)
COUNT_CAPS = (1_000, 2_000, 5_000, 20_000)
COUNT_CALLS = 100
EMBED_CALLS = 200
API_WRITE_USERS, API_WRITES_PER_USER = 3, 100  # MEMORY_WRITES allows 100 writes an hour per user
MAINTENANCE_WORK_MEM = "2GB"  # the 200k-row graph (about 1.6 GB) fits, so the build never spills
COPY_CHUNK_ROWS = 5_000
TIE_EPSILON = 1e-5  # a returned row within this cosine distance of the exact 10th counts as a hit (float32 ties)

TARGETS = {"small_p50_ms": 3.0, "small_p99_ms": 10.0, "small_recall": 1.0, "power_p50_ms": 8.0, "power_recall": 0.95}
