-- Seed 001 §4-5 memory: a fixed embedding dimension, dedupe by content hash, and an HNSW index for cosine search.
-- 1024 is Amazon Titan Text Embeddings V2's default (the production provider) and must equal EMBEDDING_DIMENSION.

ALTER TABLE agentmode.agent_memory
  ALTER COLUMN embedding TYPE vector(1024),
  ADD COLUMN content_hash bytea GENERATED ALWAYS AS (decode(md5(content), 'hex')) STORED,
  ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
  ADD CONSTRAINT agent_memory_type_check
    CHECK (memory_type IN ('brand_memory', 'preference', 'insight', 'competitor', 'campaign_result')),
  ADD CONSTRAINT agent_memory_content_length CHECK (length(content) BETWEEN 1 AND 8000);

-- Writing the same content twice for one user and type updates the first row instead of adding a second. (md5 because
-- it is immutable in Postgres, as a generated column needs; a collision could only merge two of one user's own rows.)
CREATE UNIQUE INDEX agent_memory_dedupe_idx ON agentmode.agent_memory (user_id, memory_type, content_hash);

-- A 1,024-dim vector is 4 KB, over the TOAST threshold: stored out of line, an exact scan of one user's 1,000 rows
-- reads ~8,600 extra buffers (7 ms p50 measured vs 2.8 ms inline). PLAIN keeps it in the row (about 1.5x the table).
ALTER TABLE agentmode.agent_memory ALTER COLUMN embedding SET STORAGE PLAIN;

-- ef_construction 128, not pgvector's 64: on clustered 1,024-dim vectors the sparser graph left some queries stuck in
-- the wrong neighbourhood (recall@10 of 0) at any ef_search; the build takes ~45 % longer (bench/results/memory.json).
CREATE INDEX agent_memory_embedding_hnsw_idx ON agentmode.agent_memory
  USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 128);
