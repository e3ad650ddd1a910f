-- Realtime from the database (docs/architecture.md, "Realtime"): each event is broadcast by realtime.send inside the
-- transaction that logs it, so it leaves only if that transaction commits, in commit order, which the session's row
-- lock makes seq order. This replaces the REST broadcast after the commit, its outbox (`published_at`) and the
-- per-session publisher lock: bench/realtime_paths.py measured both, and this one is also the simpler.
--
-- Private channels only: Realtime lets a client join `agent-session:{id}` when the policy below lets it read that
-- topic's messages, i.e. when it is that session's user. Turn off "Allow public access" in the project's Realtime
-- settings so that no public channel of the same name exists (README, "Realtime").

-- The session a Realtime topic names, or NULL for any other topic (never an error: a policy must not fail a join).
CREATE FUNCTION agentmode.session_of_topic(p_topic text) RETURNS uuid
LANGUAGE sql IMMUTABLE SET search_path = '' AS $$
  SELECT CASE WHEN p_topic ~ '^agent-session:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
              THEN substr(p_topic, length('agent-session:') + 1)::uuid END
$$;
REVOKE ALL ON FUNCTION agentmode.session_of_topic(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentmode.session_of_topic(text) TO authenticated, service_role;

-- Supabase Realtime Authorization: an authenticated user receives an agent session's broadcasts only for their own
-- sessions. No INSERT policy: clients cannot broadcast on these channels themselves.
CREATE POLICY agentmode_session_owner_receives ON realtime.messages FOR SELECT TO authenticated
  USING (
    realtime.messages.extension = 'broadcast'
    -- Realtime checks a join by reading a message of the joined topic; no other topic's rows open with it.
    AND realtime.messages.topic = (SELECT realtime.topic())
    AND EXISTS (
      SELECT 1 FROM agentmode.agent_sessions s
       WHERE s.id = agentmode.session_of_topic((SELECT realtime.topic())) AND s.user_id = (SELECT auth.uid())
    )
  );

-- As in 20261203000000_runner_loop.sql, plus the broadcast; the log row no longer waits to be published.
CREATE OR REPLACE FUNCTION agentmode.append_session_event(
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
   WHERE s.id = p_session_id AND s.user_id = auth.uid() AND agentmode.session_in_scope(s.id) FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'session not found' USING ERRCODE = 'P0002';
  END IF;
  IF v_session.status IN ('completed', 'failed', 'cancelled') THEN
    RAISE EXCEPTION 'session ended' USING ERRCODE = '23514';
  END IF;
  IF p_seq IS DISTINCT FROM v_session.last_seq + 1 THEN
    RAISE EXCEPTION 'seq % is not the next of session', p_seq USING ERRCODE = '22023';
  END IF;
  IF p_state ->> 'status' = 'cancelled' AND agentmode.runner_session() IS NOT NULL THEN
    RAISE EXCEPTION 'a runner cannot cancel' USING ERRCODE = '42501';
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
    cancelled_at = CASE WHEN p_state ->> 'status' = 'cancelled' THEN p_at END,
    last_seq = p_seq,
    updated_at = p_at
   WHERE s.id = p_session_id;
  IF p_state ->> 'status' IN ('completed', 'failed', 'cancelled') THEN
    UPDATE agentmode.agent_questions q
       SET answered_by = CASE WHEN p_state ->> 'status' = 'cancelled' THEN 'cancelled' ELSE 'session_ended' END,
           answered_at = p_at
     WHERE q.session_id = p_session_id AND q.answered_at IS NULL;
  END IF;
  -- Supabase's realtime.send turns its own failure into a WARNING: a broadcast never costs the event its row, and a
  -- client that missed one reads GET /agent/events?after_seq=.
  PERFORM realtime.send(p_payload, p_event ->> 'action_type', 'agent-session:' || p_session_id::text, true);
END
$$;

-- The outbox is gone: nothing publishes after the commit any more.
DROP POLICY agent_execution_logs_update_own ON agentmode.agent_execution_logs;
REVOKE UPDATE ON agentmode.agent_execution_logs FROM authenticated;
DROP INDEX agentmode.agent_execution_logs_unpublished_idx;
ALTER TABLE agentmode.agent_execution_logs DROP COLUMN published_at;
