-- The look the memory functions take before paying for an embedding: would one more use of an action be refused now?
-- Before: a transaction as the user that took the quota (take_quota: lock, delete, count, insert) and rolled back,
-- four round trips and a lock for a question. Now one autocommit statement as the functions' login role, which takes
-- nothing: no row, no lock. Its answer can be out of date by the time the use is taken; take_quota, in the use's own
-- transaction, still decides.

-- The policy of p_action for a user: the plan-independent one, else the one of the user's plan. take_quota chooses
-- the same way, so a peek and a take never disagree on the limit.
CREATE FUNCTION agentmode.quota_policy(p_user_id uuid, p_action text) RETURNS agentmode.rate_limit_policies
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_policy agentmode.rate_limit_policies;
BEGIN
  SELECT * INTO v_policy FROM agentmode.rate_limit_policies p WHERE p.action = p_action AND p.plan = 'any';
  IF NOT FOUND THEN
    SELECT * INTO v_policy FROM agentmode.rate_limit_policies p
     WHERE p.action = p_action AND p.plan = agentmode.user_plan(p_user_id);
  END IF;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no rate limit policy for %', p_action USING ERRCODE = '22023';
  END IF;
  RETURN v_policy;
END
$$;

CREATE OR REPLACE FUNCTION agentmode.take_quota(p_action text)
RETURNS TABLE (exceeded boolean, remaining integer, retry_after_ms bigint, limit_count integer, window_seconds integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_user uuid := auth.uid();
  v_policy agentmode.rate_limit_policies;
BEGIN
  IF v_user IS NULL THEN
    RAISE EXCEPTION 'no user in the JWT claims' USING ERRCODE = '42501';
  END IF;
  v_policy := agentmode.quota_policy(v_user, p_action);
  RETURN QUERY
    SELECT r.exceeded, r.remaining, r.retry_after_ms, v_policy.limit_count, v_policy.window_seconds
      FROM agentmode.check_rate_limit(v_user, p_action, v_policy.limit_count, v_policy.window_seconds) r;
END
$$;

-- Counts what check_rate_limit counts (the uses within the window that ends now) and answers as it would, taking
-- nothing. Not granted to `authenticated`: the functions' login role calls it with the id of a user whose JWT it
-- verified, as take_api_call.
CREATE FUNCTION agentmode.peek_quota(p_user_id uuid, p_action text)
RETURNS TABLE (exceeded boolean, retry_after_ms bigint, limit_count integer, window_seconds integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_policy agentmode.rate_limit_policies := agentmode.quota_policy(p_user_id, p_action);
  v_window interval := make_interval(secs => v_policy.window_seconds);
  v_now timestamptz := clock_timestamp();
  v_used integer;
  v_oldest timestamptz;
BEGIN
  SELECT count(*), min(h.hit_at) INTO v_used, v_oldest
    FROM agentmode.rate_limit_hits h
   WHERE h.user_id = p_user_id AND h.action = p_action AND h.hit_at > v_now - v_window;
  RETURN QUERY SELECT v_used >= v_policy.limit_count,
    CASE WHEN v_used >= v_policy.limit_count
      THEN greatest(1, ceil(extract(epoch FROM (coalesce(v_oldest, v_now) + v_window - v_now)) * 1000))::bigint
      ELSE 0::bigint END,
    v_policy.limit_count, v_policy.window_seconds;
END
$$;

REVOKE ALL ON FUNCTION agentmode.quota_policy(uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentmode.peek_quota(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentmode.peek_quota(uuid, text) TO service_role;
