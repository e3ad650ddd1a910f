-- POST /agent/respond and POST /agent/cancel in one database call each (issue 14: warm p50 <= 5 ms). They locked the
-- session, then the question, logged their event, closed the question or refunded the run: four or three statements,
-- a round trip each. The same steps now run here, in the same order and under the same locks, through the same
-- functions (lock_session, lock_open_question, append_session_event, close_question, refund_cancelled_run), so every
-- check those make still holds; the caller sends the runner its message before it commits, as before.
--
-- `p_at` is the caller's clock when it sends the call. The old routes read their clock once the locks were held, so
-- these functions add the time their statement waited for the locks: the answer's timeout is judged, and the event
-- stamped, as then.

-- Seed 001 §6's channel message for an event the functions log themselves, as agentmode.session_log.realtime_payload
-- builds it: the kind, the session, `seq`, `log_id`, the fields that are set, and the time in Python's ISO form (UTC
-- as `Z`, microseconds only when there are any).
CREATE FUNCTION agentmode.server_event_payload(
  p_kind text, p_session_id uuid, p_seq bigint, p_log_id uuid, p_fields jsonb, p_at timestamptz
) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT jsonb_build_object('event', p_kind, 'session_id', p_session_id, 'seq', p_seq, 'log_id', p_log_id)
    || jsonb_strip_nulls(p_fields)
    || jsonb_build_object('timestamp', to_char(p_at AT TIME ZONE 'UTC',
         CASE WHEN date_part('microseconds', p_at AT TIME ZONE 'UTC')::bigint % 1000000 = 0
              THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"' ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END))
$$;

-- A session row as append_session_event's p_state (agentmode.session_log.SessionState.columns).
CREATE FUNCTION agentmode.session_state(p_session agentmode.agent_sessions) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT jsonb_build_object('status', p_session.status, 'current_step', p_session.current_step,
    'current_step_index', p_session.current_step_index, 'progress_percentage', p_session.progress_percentage,
    'completed_steps', to_jsonb(p_session.completed_steps), 'error_message', p_session.error_message,
    'result', p_session.result, 'completed_at', p_session.completed_at)
$$;

REVOKE ALL ON FUNCTION agentmode.server_event_payload(text, uuid, bigint, uuid, jsonb, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentmode.session_state(agentmode.agent_sessions) FROM PUBLIC;

-- Closes the open question `p_question_id` of the caller's session with `p_value`, answered by the user or its
-- timeout: logs the user_response event (`question_seq`, `value`, its option's `label`, `answered_by`), puts a run
-- that was awaiting input back in its step's status (`p_step_statuses`: step name -> status, agentmode.sessions.STEPS;
-- `initializing` for another step), and closes the question. The caller holds the session's lock, then the
-- question's (answer_question, run_sweeper), and checked the value: a question no longer open is a bug, not a race.
CREATE FUNCTION agentmode.answer_open_question(
  p_session_id uuid, p_question_id uuid, p_value text, p_by text, p_at timestamptz, p_step_statuses jsonb,
  OUT event_seq bigint, OUT status text
)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_session agentmode.agent_sessions;
  v_question agentmode.agent_questions;
  v_label text;
  v_fields jsonb;
  v_log_id uuid := gen_random_uuid();
BEGIN
  SELECT * INTO v_session FROM agentmode.lock_session(p_session_id);
  SELECT * INTO v_question FROM agentmode.lock_open_question(p_session_id);
  IF v_session.id IS NULL OR v_question.id IS DISTINCT FROM p_question_id THEN
    RAISE EXCEPTION 'question % is not open', p_question_id USING ERRCODE = 'P0002';
  END IF;
  SELECT o ->> 'label' INTO v_label FROM jsonb_array_elements(v_question.options) WITH ORDINALITY AS e(o, n)
   WHERE o ->> 'value' = p_value ORDER BY n LIMIT 1;
  v_fields := jsonb_build_object('question_seq', v_question.question_seq, 'value', p_value, 'label', v_label,
    'answered_by', p_by);
  IF v_session.status = 'awaiting_input' THEN
    v_session.status := coalesce(p_step_statuses ->> v_session.current_step, 'initializing');
  END IF;
  event_seq := v_session.last_seq + 1;
  status := v_session.status;
  PERFORM agentmode.append_session_event(p_session_id, event_seq, v_log_id,
    jsonb_build_object('action_type', 'user_response', 'input_data', v_fields),
    agentmode.server_event_payload('user_response', p_session_id, event_seq, v_log_id, v_fields, p_at),
    agentmode.session_state(v_session), p_at);
  IF NOT agentmode.close_question(p_question_id, p_value, p_by, event_seq) THEN
    RAISE EXCEPTION 'question % not closed', p_question_id USING ERRCODE = 'P0002';
  END IF;
END
$$;

-- POST /agent/respond: the user's answer `p_value` to the open question `p_question_seq` of their session, in the
-- order the route checked it: `outcome` is 'not_found' (not the caller's session), 'ended' (`status` says how),
-- 'not_open' (no open question, or another one), 'invalid_value' (`offered`: the question's values), or 'closed':
-- by this answer, or (`closed_by` 'timeout', with the default `answer`) by its timeout, which had passed unseen; that
-- closing is kept, and the caller tells the user the question closed. A runner cannot answer.
CREATE FUNCTION agentmode.answer_question(
  p_session_id uuid, p_question_seq bigint, p_value text, p_at timestamptz, p_step_statuses jsonb,
  OUT outcome text, OUT status text, OUT answer text, OUT closed_by text, OUT event_seq bigint, OUT offered text[]
)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_session agentmode.agent_sessions;
  v_question agentmode.agent_questions;
  v_at timestamptz;
  v_closed record;
BEGIN
  IF agentmode.runner_session() IS NOT NULL THEN
    RAISE EXCEPTION 'a runner cannot answer' USING ERRCODE = '42501';
  END IF;
  SELECT * INTO v_session FROM agentmode.lock_session(p_session_id);
  IF NOT FOUND THEN
    outcome := 'not_found';
    RETURN;
  END IF;
  status := v_session.status;
  IF v_session.status IN ('completed', 'failed', 'cancelled') THEN
    outcome := 'ended';
    RETURN;
  END IF;
  SELECT * INTO v_question FROM agentmode.lock_open_question(p_session_id);
  IF NOT FOUND OR v_question.question_seq <> p_question_seq THEN
    outcome := 'not_open';
    RETURN;
  END IF;
  v_at := p_at + (clock_timestamp() - statement_timestamp());
  IF v_question.timeout_at <= v_at THEN
    closed_by := 'timeout';
    answer := v_question.default_value;
  ELSIF EXISTS (SELECT 1 FROM jsonb_array_elements(v_question.options) o WHERE o ->> 'value' = p_value) THEN
    closed_by := 'user';
    answer := p_value;
  ELSE
    outcome := 'invalid_value';
    offered := ARRAY(SELECT o ->> 'value' FROM jsonb_array_elements(v_question.options) WITH ORDINALITY AS e(o, n)
                      ORDER BY n);
    RETURN;
  END IF;
  SELECT * INTO v_closed FROM agentmode.answer_open_question(p_session_id, v_question.id, answer, closed_by, v_at,
    p_step_statuses);
  outcome := 'closed';
  status := v_closed.status;
  event_seq := v_closed.event_seq;
END
$$;

-- POST /agent/cancel: the caller's run ends as `cancelled`, with a session_cancelled event (`reason` user, the
-- `step_name` it was in); append_session_event closes an open question, refund_cancelled_run settles the credits.
-- `outcome` is 'not_found', 'ended' (`status` says how) or 'cancelled', with the event's `event_seq` and the
-- credits given back. A runner cannot cancel.
CREATE FUNCTION agentmode.cancel_run(
  p_session_id uuid, p_at timestamptz, OUT outcome text, OUT status text, OUT event_seq bigint, OUT refunded integer
)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_session agentmode.agent_sessions;
  v_at timestamptz;
  v_fields jsonb;
  v_log_id uuid := gen_random_uuid();
BEGIN
  IF agentmode.runner_session() IS NOT NULL THEN
    RAISE EXCEPTION 'a runner cannot cancel' USING ERRCODE = '42501';
  END IF;
  SELECT * INTO v_session FROM agentmode.lock_session(p_session_id);
  IF NOT FOUND THEN
    outcome := 'not_found';
    RETURN;
  END IF;
  status := v_session.status;
  IF v_session.status IN ('completed', 'failed', 'cancelled') THEN
    outcome := 'ended';
    RETURN;
  END IF;
  v_at := p_at + (clock_timestamp() - statement_timestamp());
  v_fields := jsonb_build_object('reason', 'user', 'step_name', v_session.current_step);
  event_seq := v_session.last_seq + 1;
  v_session.status := 'cancelled';
  v_session.completed_at := v_at;
  PERFORM agentmode.append_session_event(p_session_id, event_seq, v_log_id,
    jsonb_build_object('action_type', 'session_cancelled'),
    agentmode.server_event_payload('session_cancelled', p_session_id, event_seq, v_log_id, v_fields, v_at),
    agentmode.session_state(v_session), v_at);
  -- Refunded in full before step 6 (Generate videos) began, where the per-video cost is incurred.
  refunded := agentmode.refund_cancelled_run(p_session_id);
  outcome := 'cancelled';
  status := 'cancelled';
END
$$;

REVOKE ALL ON FUNCTION agentmode.answer_open_question(uuid, uuid, text, text, timestamptz, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentmode.answer_question(uuid, bigint, text, timestamptz, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentmode.cancel_run(uuid, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentmode.answer_open_question(uuid, uuid, text, text, timestamptz, jsonb) TO authenticated;
GRANT EXECUTE ON FUNCTION agentmode.answer_question(uuid, bigint, text, timestamptz, jsonb) TO authenticated;
GRANT EXECUTE ON FUNCTION agentmode.cancel_run(uuid, timestamptz) TO authenticated;
