-- Agent Mode's tables. They live in their own schema, which Supabase's Data API does not expose:
-- clients go through the functions, so quotas, credits and the session state machine cannot be bypassed
-- by a browser holding a user JWT. RLS still isolates every user-owned row for the functions themselves.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE SCHEMA IF NOT EXISTS agentmode;
GRANT USAGE ON SCHEMA agentmode TO authenticated, service_role;

-- Seed 000's OrgModel billing fields; the Stripe webhook writes them.
CREATE TABLE agentmode.orgs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  prem_status text NOT NULL DEFAULT 'free' CHECK (prem_status IN ('free', 'pro')),
  subscription_id text UNIQUE,
  subscription_end_date bigint,
  subscription_cancel_at_period_end boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agentmode.user_orgs (
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  org_id uuid NOT NULL REFERENCES agentmode.orgs (id) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('owner', 'admin', 'developer')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, org_id)
);
CREATE INDEX user_orgs_org_id_idx ON agentmode.user_orgs (org_id);

CREATE TABLE agentmode.projects (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES agentmode.orgs (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  environment text NOT NULL DEFAULT 'development',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_org_id_idx ON agentmode.projects (org_id);

CREATE TABLE agentmode.agent_sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  status text NOT NULL DEFAULT 'initializing',
  current_step text NOT NULL DEFAULT 'Initializing agent',
  current_step_index integer NOT NULL DEFAULT 0 CHECK (current_step_index BETWEEN 0 AND 8),
  progress_percentage integer NOT NULL DEFAULT 0 CHECK (progress_percentage BETWEEN 0 AND 100),
  total_steps integer NOT NULL DEFAULT 8,
  completed_steps text[] NOT NULL DEFAULT '{}',
  session_data jsonb NOT NULL DEFAULT '{}',
  result jsonb,
  error_message text,
  last_seq bigint NOT NULL DEFAULT 0,
  credits_charged integer NOT NULL DEFAULT 0,
  idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  request_hash text,
  started_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, idempotency_key)
);
CREATE INDEX agent_sessions_user_started_idx ON agentmode.agent_sessions (user_id, started_at DESC);

-- Every event an agent reports, numbered per session (seq) so a client can detect and fill gaps.
-- `published_at` makes the table the outbox for Realtime: rows not yet broadcast are retried.
CREATE TABLE agentmode.agent_execution_logs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  session_id uuid NOT NULL REFERENCES agentmode.agent_sessions (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  seq bigint NOT NULL,
  step_name text,
  action_type text NOT NULL,
  tool_name text,
  input_data jsonb,
  output_data jsonb,
  reasoning text,
  confidence_score numeric(4, 3) CHECK (confidence_score BETWEEN 0 AND 1),
  execution_time_ms integer CHECK (execution_time_ms >= 0),
  status text,
  error_message text,
  event_payload jsonb NOT NULL,
  published_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (session_id, seq)
);
CREATE INDEX agent_execution_logs_unpublished_idx
  ON agentmode.agent_execution_logs (session_id, seq) WHERE published_at IS NULL;

-- Seed 001 §4 memory rows. The memory issue fixes the embedding's dimension and adds its HNSW index;
-- agent_start already needs the table to check for brand memory.
CREATE TABLE agentmode.agent_memory (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  memory_type text NOT NULL,
  content text NOT NULL,
  embedding vector,
  metadata jsonb NOT NULL DEFAULT '{}',
  expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_memory_user_type_idx ON agentmode.agent_memory (user_id, memory_type);

-- Agent-run credits: a run costs CREDITS_PER_VIDEO × constraints.max_videos, debited when it starts.
CREATE TABLE agentmode.credit_balances (
  user_id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
  balance integer NOT NULL DEFAULT 0 CHECK (balance >= 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per counted use; check_rate_limit is the only reader and writer.
CREATE TABLE agentmode.rate_limit_hits (
  user_id uuid NOT NULL,
  action text NOT NULL,
  hit_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX rate_limit_hits_lookup_idx ON agentmode.rate_limit_hits (user_id, action, hit_at);
