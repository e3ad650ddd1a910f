-- The billing reads of the real dashboard (subscription-detail, billing/dashboard, preview-member-cost) and its
-- update-subscription, which here only re-sends the seats.
--
-- The reads answer from what the webhook and the membership changes keep in agentmode.orgs, without calling Stripe
-- and without the organization's lock: a read never waits behind a checkout that holds it while Stripe answers.

-- The billing state of one of the caller's organizations; NOT_FOUND for non-members (as for a missing organization),
-- ROLE_NOT_ALLOWED below p_minimum. `seats` is what Stripe bills (or will, once seat sync sends it) while the
-- subscription is live; `seats_pending` says a change has not reached Stripe yet.
CREATE FUNCTION agentmode.billing_view(p_org uuid, p_minimum text)
RETURNS TABLE (
  role text, plan text, subscription_id text, subscription_status text, subscription_live boolean,
  subscription_end_date bigint, subscription_cancel_at_period_end boolean, member_count integer, seats integer,
  seats_pending boolean
)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_role text := agentmode.caller_role(p_org, false);
BEGIN
  IF agentmode.role_rank(v_role) < agentmode.role_rank(p_minimum) THEN
    PERFORM agentmode.refuse('ROLE_NOT_ALLOWED', format('This needs the %s role or higher in the organization.', p_minimum));
  END IF;
  RETURN QUERY
    SELECT v_role, agentmode.org_effective_plan(o), o.subscription_id, o.subscription_status, v.live,
           o.subscription_end_date, o.subscription_cancel_at_period_end, m.members,
           CASE WHEN v.live THEN coalesce(o.seats_wanted, greatest(1, m.members)) END,
           v.live AND o.seat_version > o.seats_synced_version
      FROM agentmode.orgs o
     CROSS JOIN LATERAL (SELECT count(*)::integer AS members FROM agentmode.user_orgs uo WHERE uo.org_id = o.id) m
     -- As begin_billing counts it: a subscription whose status the webhook has not written yet is live.
     CROSS JOIN LATERAL (SELECT o.subscription_id IS NOT NULL
                                AND agentmode.subscription_is_live(coalesce(o.subscription_status, 'active')) AS live) v
     WHERE o.id = p_org;
END
$$;

-- update-subscription: the seats of a live subscription recorded again as the member count, for seat sync to send
-- after the commit (the one writer of Stripe's quantity). A version already pending carries that count: it is not
-- bumped again, so retries add no Stripe update of their own. Returns the seats.
CREATE FUNCTION agentmode.resync_seats(p_org uuid) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_seats integer;
BEGIN
  PERFORM agentmode.require_role(p_org, 'admin');
  UPDATE agentmode.orgs o
     SET seats_wanted = greatest(1, (SELECT count(*) FROM agentmode.user_orgs uo WHERE uo.org_id = o.id)::integer),
         seat_version = CASE WHEN o.seat_version > o.seats_synced_version THEN o.seat_version ELSE o.seat_version + 1 END
   WHERE o.id = p_org AND o.subscription_id IS NOT NULL
     AND agentmode.subscription_is_live(coalesce(o.subscription_status, 'active'))
  RETURNING o.seats_wanted INTO v_seats;
  IF v_seats IS NULL THEN
    PERFORM agentmode.refuse('NO_SUBSCRIPTION', 'The organization has no live subscription.');
  END IF;
  RETURN v_seats;
END
$$;

REVOKE ALL ON FUNCTION agentmode.billing_view(uuid, text), agentmode.resync_seats(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentmode.billing_view(uuid, text), agentmode.resync_seats(uuid) TO authenticated, service_role;
