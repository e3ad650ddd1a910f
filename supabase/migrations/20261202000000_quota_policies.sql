-- Quotas and session writes behind SECURITY DEFINER functions that trust nothing the caller passes but its JWT.
--
-- Before: `authenticated` could EXECUTE check_rate_limit with a limit and window of its choosing (a user with SQL
-- access reset their own quota) and UPDATE last_seq/status of its own sessions directly. Now the limits live in a
-- table only the owner writes, the role calls take_quota(action) for itself, and session state changes only through
-- append_session_event, which numbers events itself and refuses ended sessions.

-- Seed 001 §8's per-user limits, one row per action and plan ('any' = every plan). Change a limit with an UPDATE here.
CREATE TABLE agentmode.rate_limit_policies (
  action text NOT NULL CHECK (action ~ '^[a-z_]{1,40}$'),
  plan text NOT NULL CHECK (plan IN ('any', 'free', 'pro')),
  limit_count integer NOT NULL CHECK (limit_count >= 0),
  window_seconds integer NOT NULL CHECK (window_seconds > 0),
  PRIMARY KEY (action, plan)
);
ALTER TABLE agentmode.rate_limit_policies ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON agentmode.rate_limit_policies FROM anon, authenticated;

INSERT INTO agentmode.rate_limit_policies (action, plan, limit_count, window_seconds) VALUES
  ('agent_start', 'free', 10, 86400),
  ('agent_start', 'pro', 50, 86400),
  ('memory_write', 'any', 100, 3600),
  ('memory_read', 'any', 500, 3600),
  ('api_call', 'any', 1000, 3600);

-- The quota of `p_action` for the calling user (auth.uid()), counted by check_rate_limit in the caller's transaction.
CREATE FUNCTION agentmode.take_quota(p_action text)
RETURNS TABLE (exceeded boolean, remaining integer, retry_after_ms bigint, limit_count integer, window_seconds integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_user uuid := auth.uid();
  v_policy agentmode.rate_limit_policies;
BEGIN
  IF v_user IS NULL THEN
    RAISE EXCEPTION 'no user in the JWT claims' USING ERRCODE = '42501';
  END IF;
  SELECT * INTO v_policy FROM agentmode.rate_limit_policies p WHERE p.action = p_action AND p.plan = 'any';
  IF NOT FOUND THEN
    SELECT * INTO v_policy FROM agentmode.rate_limit_policies p
     WHERE p.action = p_action AND p.plan = agentmode.user_plan(v_user);
  END IF;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no rate limit policy for %', p_action USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
    SELECT r.exceeded, r.remaining, r.retry_after_ms, v_policy.limit_count, v_policy.window_seconds
      FROM agentmode.check_rate_limit(v_user, p_action, v_policy.limit_count, v_policy.window_seconds) r;
END
$$;

-- Seed 001 §8's "API calls: 1000 per hour", taken once per authenticated request before any other work. Counted per
-- user and fixed window (the policy's window_seconds, aligned to the epoch: clock hours for 3600) in an unlogged table
-- with one upsert: no WAL, so the commit needs no flush, where check_rate_limit's sliding window costs an insert, a
-- delete and a count per call. A fixed window lets a user spend up to twice the limit across a window's edge; a crash
-- empties the table, which forgives that window's calls. The same call refuses a still-valid token of a deleted user.
CREATE UNLOGGED TABLE agentmode.api_call_counts (
  user_id uuid NOT NULL,
  window_start timestamptz NOT NULL,
  calls integer NOT NULL,
  PRIMARY KEY (user_id, window_start)
);
ALTER TABLE agentmode.api_call_counts ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON agentmode.api_call_counts FROM anon, authenticated;

-- Not granted to `authenticated`: the functions' own login role calls it with the id of a user whose JWT they verified.
CREATE FUNCTION agentmode.take_api_call(p_user_id uuid)
RETURNS TABLE (user_exists boolean, exceeded boolean, limit_count integer, window_seconds integer, retry_after_ms bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' SET lock_timeout = '2s' AS $$
DECLARE
  v_now timestamptz := clock_timestamp();
  v_policy agentmode.rate_limit_policies;
  v_start timestamptz;
  v_calls integer;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM auth.users u WHERE u.id = p_user_id) THEN
    RETURN QUERY SELECT false, false, 0, 0, 0::bigint;
    RETURN;
  END IF;
  SELECT * INTO STRICT v_policy FROM agentmode.rate_limit_policies p WHERE p.action = 'api_call' AND p.plan = 'any';
  v_start := to_timestamp(floor(extract(epoch FROM v_now) / v_policy.window_seconds) * v_policy.window_seconds);
  INSERT INTO agentmode.api_call_counts AS c (user_id, window_start, calls) VALUES (p_user_id, v_start, 1)
  ON CONFLICT (user_id, window_start) DO UPDATE SET calls = c.calls + 1
  RETURNING c.calls INTO v_calls;
  IF v_calls = 1 THEN
    DELETE FROM agentmode.api_call_counts c WHERE c.user_id = p_user_id AND c.window_start < v_start;
  END IF;
  RETURN QUERY SELECT true, v_calls > v_policy.limit_count, v_policy.limit_count, v_policy.window_seconds,
    greatest(1, ceil(extract(epoch FROM (v_start + make_interval(secs => v_policy.window_seconds) - v_now)) * 1000))::bigint;
END
$$;

REVOKE ALL ON FUNCTION agentmode.take_quota(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentmode.take_api_call(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentmode.take_quota(text) TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION agentmode.take_api_call(uuid) TO service_role;
REVOKE EXECUTE ON FUNCTION agentmode.check_rate_limit(uuid, text, integer, integer) FROM authenticated;

-- Session state: the agent_event function locks the session, computes the next state (its state machine) and hands it
-- here; this function checks what the database can check by itself (the caller's own session, not ended, the next seq),
-- so direct SQL as `authenticated` can do no more than POST /agent/event can. (SELECT ... FOR UPDATE needs UPDATE
-- privilege, which the role no longer has: lock_session takes the lock for it.)
CREATE FUNCTION agentmode.lock_session(p_session_id uuid) RETURNS SETOF agentmode.agent_sessions
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
  SELECT * FROM agentmode.agent_sessions s WHERE s.id = p_session_id AND s.user_id = auth.uid() FOR UPDATE
$$;

CREATE FUNCTION agentmode.append_session_event(
  p_session_id uuid,
  p_seq bigint,
  p_log_id uuid,
  p_event jsonb,
  p_payload jsonb,
  p_state jsonb,
  p_at timestamptz
) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_session agentmode.agent_sessions;
BEGIN
  SELECT * INTO v_session FROM agentmode.agent_sessions s
   WHERE s.id = p_session_id AND s.user_id = auth.uid() FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'session not found' USING ERRCODE = 'P0002';
  END IF;
  IF v_session.status IN ('completed', 'failed') THEN
    RAISE EXCEPTION 'session ended' USING ERRCODE = '23514';
  END IF;
  IF p_seq IS DISTINCT FROM v_session.last_seq + 1 THEN
    RAISE EXCEPTION 'seq % is not the next of session', p_seq USING ERRCODE = '22023';
  END IF;
  INSERT INTO agentmode.agent_execution_logs (id, session_id, user_id, seq, step_name, action_type, tool_name,
    input_data, output_data, reasoning, confidence_score, execution_time_ms, status, error_message, event_payload,
    created_at)
  VALUES (p_log_id, p_session_id, v_session.user_id, p_seq, p_event ->> 'step_name', p_event ->> 'action_type',
    p_event ->> 'tool_name', nullif(p_event -> 'input_data', 'null'), nullif(p_event -> 'output_data', 'null'),
    p_event ->> 'reasoning', (p_event ->> 'confidence_score')::numeric, (p_event ->> 'execution_time_ms')::integer,
    p_event ->> 'status', p_event ->> 'error_message', p_payload, p_at);
  UPDATE agentmode.agent_sessions s SET
    status = p_state ->> 'status',
    current_step = p_state ->> 'current_step',
    current_step_index = (p_state ->> 'current_step_index')::integer,
    progress_percentage = (p_state ->> 'progress_percentage')::integer,
    completed_steps = ARRAY(SELECT jsonb_array_elements_text(p_state -> 'completed_steps')),
    error_message = p_state ->> 'error_message',
    result = nullif(p_state -> 'result', 'null'),
    completed_at = (p_state ->> 'completed_at')::timestamptz,
    last_seq = p_seq,
    updated_at = p_at
   WHERE s.id = p_session_id;
END
$$;

REVOKE ALL ON FUNCTION agentmode.lock_session(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentmode.append_session_event(uuid, bigint, uuid, jsonb, jsonb, jsonb, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentmode.lock_session(uuid) TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION agentmode.append_session_event(uuid, bigint, uuid, jsonb, jsonb, jsonb, timestamptz)
  TO authenticated, service_role;

REVOKE UPDATE ON agentmode.agent_sessions FROM authenticated;
DROP POLICY agent_sessions_update_own ON agentmode.agent_sessions;
REVOKE INSERT ON agentmode.agent_execution_logs FROM authenticated;
DROP POLICY agent_execution_logs_insert_own ON agentmode.agent_execution_logs;
