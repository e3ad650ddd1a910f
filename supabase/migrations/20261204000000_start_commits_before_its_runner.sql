-- A start message leaves before its session commits (a refused send then undoes the start: docs/runner.md), so a
-- runner can take it while the session is still invisible; its first call would find no session, be refused (401)
-- and drop the run. agent_start holds this lock from its insert to its commit or rollback, and a runner's check of
-- its session waits for it: it then sees the committed session, or none because the start was undone.

-- The lock's key, one fact for both sides. A collision (64-bit hash) only makes a runner wait for another's start.
CREATE FUNCTION agentmode.session_start_lock_key(p_session_id uuid) RETURNS bigint
LANGUAGE sql IMMUTABLE SET search_path = '' AS $$
  SELECT hashtextextended('agent-start/' || p_session_id::text, 0)
$$;
REVOKE ALL ON FUNCTION agentmode.session_start_lock_key(uuid) FROM PUBLIC;

-- agent_start, in its transaction, right after inserting the session and before sending its message.
CREATE FUNCTION agentmode.hold_session_start(p_session_id uuid) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
  SELECT pg_advisory_xact_lock(agentmode.session_start_lock_key(p_session_id))
$$;
REVOKE ALL ON FUNCTION agentmode.hold_session_start(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentmode.hold_session_start(uuid) TO authenticated;

-- plpgsql and VOLATILE so that the SELECT takes its snapshot after the lock is granted (READ COMMITTED): it sees the
-- start's commit. The shared lock ends with the caller's autocommit statement; runners never wait on one another.
CREATE OR REPLACE FUNCTION agentmode.runner_session_status(p_session_id uuid, p_user_id uuid) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_status text;
BEGIN
  PERFORM pg_advisory_xact_lock_shared(agentmode.session_start_lock_key(p_session_id));
  SELECT s.status INTO v_status FROM agentmode.agent_sessions s WHERE s.id = p_session_id AND s.user_id = p_user_id;
  RETURN v_status;
END
$$;
