-- Billing actions of seed 000 (checkout, cancel, reactivate, discount codes) and seats that follow membership.
--
-- Stripe is called by the functions, never from SQL; what must be exact is decided here:
--   * one checkout at a time per organization: begin_billing() locks the organization's row (as every membership
--     change does) for the whole request, and an open Checkout Session is recorded, to be returned again;
--   * one Stripe customer per organization, recorded once and never replaced;
--   * seats: every membership change of a paying organization records the wanted quantity and bumps seat_version in
--     its own transaction; the functions send it to Stripe after the commit, with seat_version in the idempotency key,
--     and mark it synced; the seat_sync function retries whatever is left, until it lands.

ALTER TABLE agentmode.orgs
  ADD COLUMN checkout_session_id text,
  ADD COLUMN checkout_session_expires_at timestamptz,
  -- Counts recorded checkouts: with the request's parameters it makes the Checkout Session's idempotency key, so a
  -- retry after a lost answer gets the same session, and the next checkout a new one.
  ADD COLUMN checkout_generation integer NOT NULL DEFAULT 0,
  -- Counts cancel/reactivate requests: their idempotency key when the client sends no Idempotency-Key.
  ADD COLUMN billing_action_seq integer NOT NULL DEFAULT 0,
  ADD COLUMN seats_wanted integer CHECK (seats_wanted >= 1),
  ADD COLUMN seat_version bigint NOT NULL DEFAULT 0,
  ADD COLUMN seats_synced_version bigint NOT NULL DEFAULT 0;
CREATE INDEX orgs_seats_pending_idx ON agentmode.orgs (id) WHERE seat_version > seats_synced_version;

-- Validation of discount codes costs Stripe calls and could enumerate codes: a per-user quota.
INSERT INTO agentmode.rate_limit_policies (action, plan, limit_count, window_seconds)
VALUES ('discount_code', 'any', 20, 3600);

-- The organization's billing state for an owner or admin, its row locked until the transaction ends.
CREATE FUNCTION agentmode.begin_billing(p_org uuid)
RETURNS TABLE (
  name text, subscription_id text, subscription_status text, subscription_cancel_at_period_end boolean,
  stripe_customer_id text, checkout_session_id text, checkout_session_expires_at timestamptz,
  checkout_generation integer, member_count integer, subscription_live boolean
)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM agentmode.require_role(p_org, 'admin');
  RETURN QUERY
    SELECT o.name, o.subscription_id, o.subscription_status, o.subscription_cancel_at_period_end, o.stripe_customer_id,
           o.checkout_session_id, o.checkout_session_expires_at, o.checkout_generation,
           (SELECT count(*) FROM agentmode.user_orgs uo WHERE uo.org_id = p_org)::integer,
           -- A subscription whose status the webhook has not written yet counts as live, as delete_org counts it.
           o.subscription_id IS NOT NULL AND agentmode.subscription_is_live(coalesce(o.subscription_status, 'active'))
      FROM agentmode.orgs o WHERE o.id = p_org;
END
$$;

-- Records the open Checkout Session (and the organization's Stripe customer, if it had none).
CREATE FUNCTION agentmode.save_checkout(p_org uuid, p_customer text, p_session text, p_expires_at timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM agentmode.require_role(p_org, 'admin');
  UPDATE agentmode.orgs o
     SET stripe_customer_id = coalesce(o.stripe_customer_id, p_customer), checkout_session_id = p_session,
         checkout_session_expires_at = p_expires_at, checkout_generation = o.checkout_generation + 1, updated_at = now()
   WHERE o.id = p_org;
END
$$;

CREATE FUNCTION agentmode.next_billing_action(p_org uuid) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_seq integer;
BEGIN
  PERFORM agentmode.require_role(p_org, 'admin');
  UPDATE agentmode.orgs o SET billing_action_seq = o.billing_action_seq + 1 WHERE o.id = p_org
  RETURNING o.billing_action_seq INTO v_seq;
  RETURN v_seq;
END
$$;

-- Seats: a paying organization's quantity is its member count, recorded with the membership change itself.
CREATE FUNCTION agentmode.record_seats() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_org uuid := coalesce(NEW.org_id, OLD.org_id);
BEGIN
  UPDATE agentmode.orgs o
     SET seats_wanted = greatest(1, (SELECT count(*) FROM agentmode.user_orgs uo WHERE uo.org_id = v_org)::integer),
         seat_version = o.seat_version + 1
   WHERE o.id = v_org AND o.subscription_id IS NOT NULL AND agentmode.subscription_is_live(o.subscription_status);
  RETURN NULL;
END
$$;

CREATE TRIGGER user_orgs_record_seats
  AFTER INSERT OR DELETE ON agentmode.user_orgs
  FOR EACH ROW EXECUTE FUNCTION agentmode.record_seats();

-- A subscription that starts (or replaces another) is billed for the members the organization has then: the webhook
-- writes it, and the next sync sends that count (members may have joined between checkout and webhook).
CREATE FUNCTION agentmode.seats_on_subscription_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF NEW.subscription_id IS NOT NULL AND agentmode.subscription_is_live(NEW.subscription_status)
     AND (NEW.subscription_id IS DISTINCT FROM OLD.subscription_id
          OR NOT coalesce(agentmode.subscription_is_live(OLD.subscription_status), false)) THEN
    NEW.seats_wanted := greatest(1, (SELECT count(*) FROM agentmode.user_orgs uo WHERE uo.org_id = NEW.id)::integer);
    NEW.seat_version := OLD.seat_version + 1;
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER orgs_seats_on_subscription_change
  BEFORE UPDATE OF subscription_id, subscription_status ON agentmode.orgs
  FOR EACH ROW EXECUTE FUNCTION agentmode.seats_on_subscription_change();

-- What the functions send to Stripe (service_role): the organizations whose seats changed since their last sync, while
-- their subscription is live (an ended one is not billed for seats, and Stripe would refuse the update).
CREATE FUNCTION agentmode.pending_seats(p_org uuid DEFAULT NULL)
RETURNS TABLE (org_id uuid, subscription_id text, seats integer, version bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT o.id, o.subscription_id, o.seats_wanted, o.seat_version FROM agentmode.orgs o
   WHERE o.seat_version > o.seats_synced_version AND o.subscription_id IS NOT NULL
     AND agentmode.subscription_is_live(o.subscription_status) AND (p_org IS NULL OR o.id = p_org)
   ORDER BY o.id
$$;

-- A later change may have bumped the version meanwhile: only the version sent is marked.
CREATE FUNCTION agentmode.seats_synced(p_org uuid, p_version bigint) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
  UPDATE agentmode.orgs o SET seats_synced_version = greatest(o.seats_synced_version, p_version) WHERE o.id = p_org
$$;

REVOKE ALL ON FUNCTION agentmode.begin_billing(uuid), agentmode.save_checkout(uuid, text, text, timestamptz),
  agentmode.next_billing_action(uuid), agentmode.record_seats(), agentmode.seats_on_subscription_change(),
  agentmode.pending_seats(uuid), agentmode.seats_synced(uuid, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentmode.begin_billing(uuid), agentmode.save_checkout(uuid, text, text, timestamptz),
  agentmode.next_billing_action(uuid) TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION agentmode.pending_seats(uuid), agentmode.seats_synced(uuid, bigint) TO service_role;
