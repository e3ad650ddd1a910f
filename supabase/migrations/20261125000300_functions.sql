-- Functions that must change rows a user cannot write directly. SECURITY DEFINER with an empty search_path,
-- and each refuses to act for anyone but the caller (auth.uid()) unless the caller is the service role.

CREATE FUNCTION agentmode.assert_acting_for(p_user_id uuid) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  IF p_user_id IS DISTINCT FROM auth.uid() AND coalesce(auth.role(), '') <> 'service_role' THEN
    RAISE EXCEPTION 'not allowed to act for another user' USING ERRCODE = '42501';
  END IF;
END
$$;

-- Seed 001 §8's check_rate_limit: a sliding window counted exactly. The advisory lock serialises concurrent calls
-- for one (user, action), so two requests can never both take the last slot.
CREATE FUNCTION agentmode.check_rate_limit(p_user_id uuid, p_action text, p_limit integer, p_window_seconds integer)
RETURNS TABLE (exceeded boolean, remaining integer, retry_after_ms bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_window interval := make_interval(secs => p_window_seconds);
  v_now timestamptz := clock_timestamp();
  v_used integer;
  v_oldest timestamptz;
BEGIN
  PERFORM agentmode.assert_acting_for(p_user_id);
  IF p_limit < 0 OR p_window_seconds <= 0 THEN
    RAISE EXCEPTION 'invalid rate limit' USING ERRCODE = '22023';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended(p_user_id::text || '/' || p_action, 0));

  DELETE FROM agentmode.rate_limit_hits h
   WHERE h.user_id = p_user_id AND h.action = p_action AND h.hit_at <= v_now - v_window;

  SELECT count(*), min(h.hit_at) INTO v_used, v_oldest
    FROM agentmode.rate_limit_hits h
   WHERE h.user_id = p_user_id AND h.action = p_action;

  IF v_used >= p_limit THEN
    RETURN QUERY SELECT true, 0,
      greatest(1, ceil(extract(epoch FROM (coalesce(v_oldest, v_now) + v_window - v_now)) * 1000))::bigint;
    RETURN;
  END IF;

  INSERT INTO agentmode.rate_limit_hits (user_id, action, hit_at) VALUES (p_user_id, p_action, v_now);
  RETURN QUERY SELECT false, p_limit - v_used - 1, 0::bigint;
END
$$;

-- Debits a run's cost if the balance covers it; returns the new balance, or NULL (and changes nothing) if not.
CREATE FUNCTION agentmode.debit_credits(p_user_id uuid, p_amount integer) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_balance integer;
BEGIN
  PERFORM agentmode.assert_acting_for(p_user_id);
  IF p_amount < 0 THEN
    RAISE EXCEPTION 'invalid amount' USING ERRCODE = '22023';
  END IF;
  UPDATE agentmode.credit_balances c
     SET balance = c.balance - p_amount, updated_at = now()
   WHERE c.user_id = p_user_id AND c.balance >= p_amount
  RETURNING c.balance INTO v_balance;
  RETURN v_balance;
END
$$;

REVOKE ALL ON FUNCTION agentmode.assert_acting_for(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentmode.check_rate_limit(uuid, text, integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentmode.debit_credits(uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentmode.assert_acting_for(uuid) TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION agentmode.check_rate_limit(uuid, text, integer, integer) TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION agentmode.debit_credits(uuid, integer) TO authenticated, service_role;
