-- The runner's half of the agent loop (docs/runner.md): a run's deadline, cancellation, the questions an agent asks
-- the user, and the scope of a runner credential.
--
-- A runner credential is not a Supabase token: the functions verify it (its own secret and audience) and then act
-- as the session's user with one extra claim, `runner_session`, that only they set (a user token's claims are
-- filtered before they reach request.jwt.claims). Every rule below that reads it narrows a runner to that session.

ALTER TABLE agentmode.agent_sessions
  ADD COLUMN deadline_at timestamptz NOT NULL DEFAULT now() + interval '1 hour',
  ADD COLUMN credits_refunded integer NOT NULL DEFAULT 0 CHECK (credits_refunded >= 0),
  ADD COLUMN cancelled_at timestamptz;
CREATE INDEX agent_sessions_live_idx ON agentmode.agent_sessions (updated_at)
  WHERE status NOT IN ('completed', 'failed', 'cancelled');

-- The session a runner credential is scoped to; NULL for a user's own token.
CREATE FUNCTION agentmode.runner_session() RETURNS uuid
LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT nullif(auth.jwt() ->> 'runner_session', '')::uuid
$$;

-- True when the caller may act on the session at all: a user on any of their sessions, a runner on its own only.
CREATE FUNCTION agentmode.session_in_scope(p_session_id uuid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT agentmode.runner_session() IS NULL OR agentmode.runner_session() = p_session_id
$$;

REVOKE ALL ON FUNCTION agentmode.runner_session() FROM PUBLIC;
REVOKE ALL ON FUNCTION agentmode.session_in_scope(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentmode.runner_session() TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION agentmode.session_in_scope(uuid) TO authenticated, service_role;

-- Restrictive: they narrow the permissive own-row policies for runners and change nothing for users. The claim is
-- read once per statement (the sub-select), not once per row.
CREATE POLICY agent_sessions_runner_scope ON agentmode.agent_sessions AS RESTRICTIVE FOR ALL TO authenticated
  USING ((SELECT agentmode.runner_session()) IS NULL OR id = (SELECT agentmode.runner_session()))
  WITH CHECK ((SELECT agentmode.runner_session()) IS NULL);
CREATE POLICY agent_execution_logs_runner_scope ON agentmode.agent_execution_logs AS RESTRICTIVE FOR ALL TO authenticated
  USING ((SELECT agentmode.runner_session()) IS NULL OR session_id = (SELECT agentmode.runner_session()))
  WITH CHECK ((SELECT agentmode.runner_session()) IS NULL OR session_id = (SELECT agentmode.runner_session()));
-- A runner reads all of the user's memories but writes only what step 7 (Update memory) learns, and deletes nothing.
CREATE POLICY agent_memory_runner_inserts ON agentmode.agent_memory AS RESTRICTIVE FOR INSERT TO authenticated
  WITH CHECK ((SELECT agentmode.runner_session()) IS NULL OR memory_type IN ('insight', 'campaign_result'));
CREATE POLICY agent_memory_runner_updates ON agentmode.agent_memory AS RESTRICTIVE FOR UPDATE TO authenticated
  USING ((SELECT agentmode.runner_session()) IS NULL OR memory_type IN ('insight', 'campaign_result'))
  WITH CHECK ((SELECT agentmode.runner_session()) IS NULL OR memory_type IN ('insight', 'campaign_result'));
CREATE POLICY agent_memory_runner_deletes ON agentmode.agent_memory AS RESTRICTIVE FOR DELETE TO authenticated
  USING ((SELECT agentmode.runner_session()) IS NULL);

-- Seed 001 §6's user_input_required, as a question the user (or its timeout) answers exactly once.
CREATE TABLE agentmode.agent_questions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  session_id uuid NOT NULL REFERENCES agentmode.agent_sessions (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  question_seq bigint NOT NULL,
  options jsonb NOT NULL CHECK (jsonb_typeof(options) = 'array' AND jsonb_array_length(options) > 0),
  default_value text NOT NULL,
  asked_at timestamptz NOT NULL,
  timeout_at timestamptz NOT NULL,
  answer text,
  answered_by text CHECK (answered_by IN ('user', 'timeout', 'cancelled', 'session_ended')),
  answered_at timestamptz,
  response_seq bigint,
  UNIQUE (session_id, question_seq),
  CHECK ((answered_at IS NULL) = (answered_by IS NULL))
);
-- One open question per session: a runner waits for the answer (or the timeout) before it asks the next.
CREATE UNIQUE INDEX agent_questions_one_open_idx ON agentmode.agent_questions (session_id) WHERE answered_at IS NULL;
CREATE INDEX agent_questions_due_idx ON agentmode.agent_questions (timeout_at) WHERE answered_at IS NULL;
ALTER TABLE agentmode.agent_questions ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON agentmode.agent_questions TO authenticated;
CREATE POLICY agent_questions_select_own ON agentmode.agent_questions FOR SELECT TO authenticated
  USING (user_id = (SELECT auth.uid()) AND agentmode.session_in_scope(session_id));

-- Locks the caller's session (in scope) for the next event; see 20261202000000_quota_policies.sql.
CREATE OR REPLACE FUNCTION agentmode.lock_session(p_session_id uuid) RETURNS SETOF agentmode.agent_sessions
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
  SELECT * FROM agentmode.agent_sessions s
   WHERE s.id = p_session_id AND s.user_id = auth.uid() AND agentmode.session_in_scope(s.id) FOR UPDATE
$$;

-- As before, plus: a runner only on its session, `cancelled` is terminal, and the cancel time is kept.
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
  -- Only the functions' own cancel route ends a run as cancelled; a runner's event cannot.
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
  -- A run that ends leaves no question open: nobody could answer it any more.
  IF p_state ->> 'status' IN ('completed', 'failed', 'cancelled') THEN
    UPDATE agentmode.agent_questions q
       SET answered_by = CASE WHEN p_state ->> 'status' = 'cancelled' THEN 'cancelled' ELSE 'session_ended' END,
           answered_at = p_at
     WHERE q.session_id = p_session_id AND q.answered_at IS NULL;
  END IF;
END
$$;

-- Records the question of a user_input_required event the caller just appended (same transaction, session locked).
CREATE FUNCTION agentmode.open_question(
  p_session_id uuid, p_question_seq bigint, p_options jsonb, p_default text, p_timeout_at timestamptz
) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id uuid;
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM agentmode.agent_execution_logs l JOIN agentmode.agent_sessions s ON s.id = l.session_id
     WHERE l.session_id = p_session_id AND l.seq = p_question_seq AND l.action_type = 'user_input_required'
       AND s.user_id = auth.uid() AND agentmode.session_in_scope(s.id)
  ) THEN
    RAISE EXCEPTION 'no such question event' USING ERRCODE = 'P0002';
  END IF;
  INSERT INTO agentmode.agent_questions (session_id, user_id, question_seq, options, default_value, asked_at, timeout_at)
  VALUES (p_session_id, auth.uid(), p_question_seq, p_options, p_default, now(), p_timeout_at)
  RETURNING id INTO v_id;
  RETURN v_id;
END
$$;

-- The session's open question, locked; the caller holds the session lock. Empty when none is open.
CREATE FUNCTION agentmode.lock_open_question(p_session_id uuid) RETURNS SETOF agentmode.agent_questions
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
  SELECT * FROM agentmode.agent_questions q
   WHERE q.session_id = p_session_id AND q.user_id = auth.uid() AND q.answered_at IS NULL
     AND agentmode.session_in_scope(q.session_id)
   FOR UPDATE
$$;

-- Closes an open question with its answer; false when it was already closed (the other racer won). A runner
-- cannot answer: only the session's user, or its timeout.
CREATE FUNCTION agentmode.close_question(p_question_id uuid, p_answer text, p_by text, p_response_seq bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF agentmode.runner_session() IS NOT NULL THEN
    RAISE EXCEPTION 'a runner cannot answer' USING ERRCODE = '42501';
  END IF;
  IF p_by NOT IN ('user', 'timeout') THEN
    RAISE EXCEPTION 'invalid answerer' USING ERRCODE = '22023';
  END IF;
  UPDATE agentmode.agent_questions q
     SET answer = p_answer, answered_by = p_by, answered_at = now(), response_seq = p_response_seq
   WHERE q.id = p_question_id AND q.user_id = auth.uid() AND q.answered_at IS NULL
     AND EXISTS (SELECT 1 FROM jsonb_array_elements(q.options) o WHERE o ->> 'value' = p_answer);
  RETURN FOUND;
END
$$;

-- A cancelled run is refunded in full when no video generation had begun (step 6, where the per-video cost is
-- incurred); from step 6 on the charge stands. Returns the credits given back; once per run.
CREATE FUNCTION agentmode.refund_cancelled_run(p_session_id uuid) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_session agentmode.agent_sessions;
BEGIN
  IF agentmode.runner_session() IS NOT NULL THEN
    RAISE EXCEPTION 'a runner cannot refund' USING ERRCODE = '42501';
  END IF;
  SELECT * INTO v_session FROM agentmode.agent_sessions s
   WHERE s.id = p_session_id AND s.user_id = auth.uid() FOR UPDATE;
  IF NOT FOUND OR v_session.status <> 'cancelled' OR v_session.credits_refunded > 0
     OR v_session.current_step_index >= 6 OR v_session.credits_charged = 0 THEN
    RETURN 0;
  END IF;
  UPDATE agentmode.credit_balances c SET balance = c.balance + v_session.credits_charged, updated_at = now()
   WHERE c.user_id = v_session.user_id;
  UPDATE agentmode.agent_sessions s SET credits_refunded = v_session.credits_charged WHERE s.id = p_session_id;
  RETURN v_session.credits_charged;
END
$$;

REVOKE ALL ON FUNCTION agentmode.open_question(uuid, bigint, jsonb, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentmode.lock_open_question(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentmode.close_question(uuid, text, text, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentmode.refund_cancelled_run(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentmode.open_question(uuid, bigint, jsonb, text, timestamptz) TO authenticated;
GRANT EXECUTE ON FUNCTION agentmode.lock_open_question(uuid) TO authenticated;
GRANT EXECUTE ON FUNCTION agentmode.close_question(uuid, text, text, bigint) TO authenticated;
GRANT EXECUTE ON FUNCTION agentmode.refund_cancelled_run(uuid) TO authenticated;

-- The stalled-run sweep's candidates (service role): live sessions quiet for `p_stall` or past their deadline, and
-- sessions whose open question is due. Each is then handled as its user, under the session lock, and re-checked.
CREATE FUNCTION agentmode.sweep_candidates(p_stall interval, p_limit integer)
RETURNS TABLE (session_id uuid, user_id uuid, reason text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  (SELECT q.session_id, q.user_id, 'question_timeout' FROM agentmode.agent_questions q
    WHERE q.answered_at IS NULL AND q.timeout_at <= now() ORDER BY q.timeout_at LIMIT p_limit)
  UNION ALL
  (SELECT s.id, s.user_id, CASE WHEN s.deadline_at <= now() THEN 'deadline' ELSE 'stalled' END
     FROM agentmode.agent_sessions s
    WHERE s.status NOT IN ('completed', 'failed', 'cancelled')
      AND (s.deadline_at <= now()
           -- A run waiting for the user's answer is quiet, not stalled, until the question's own timeout.
           OR (s.updated_at <= now() - p_stall
               AND NOT EXISTS (SELECT 1 FROM agentmode.agent_questions q
                                WHERE q.session_id = s.id AND q.answered_at IS NULL AND q.timeout_at > now())))
    ORDER BY s.updated_at LIMIT p_limit)
$$;
REVOKE ALL ON FUNCTION agentmode.sweep_candidates(interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentmode.sweep_candidates(interval, integer) TO service_role;

-- The status of a runner credential's session (NULL: not that user's), for the functions' login role before any
-- request work: a runner acts only while its session runs.
CREATE FUNCTION agentmode.runner_session_status(p_session_id uuid, p_user_id uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT s.status FROM agentmode.agent_sessions s WHERE s.id = p_session_id AND s.user_id = p_user_id
$$;
REVOKE ALL ON FUNCTION agentmode.runner_session_status(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentmode.runner_session_status(uuid, uuid) TO service_role;
