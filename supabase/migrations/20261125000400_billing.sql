-- Stripe billing state (seed 000, "Billing & Subscription Management"), written only by the stripe_webhook function
-- as `service_role`. Users read their organizations' plan through agentmode.user_plan().

ALTER TABLE agentmode.orgs
  ADD COLUMN stripe_customer_id text,
  ADD COLUMN subscription_status text,
  ADD COLUMN past_due_since timestamptz,
  -- Ordering guard: the newest subscription-state event applied (Stripe's event.created, then a rank per type for
  -- events in the same second). An older event never overwrites the state a newer one set.
  ADD COLUMN billing_state_at bigint,
  ADD COLUMN billing_state_rank smallint,
  ADD COLUMN billing_flagged boolean NOT NULL DEFAULT false,
  ADD COLUMN billing_flag_reason text;
CREATE INDEX orgs_stripe_customer_id_idx ON agentmode.orgs (stripe_customer_id);

-- One row per Stripe event ever handled: claimed in the same transaction as its effect (exactly once).
CREATE TABLE agentmode.stripe_events (
  id text PRIMARY KEY,
  type text NOT NULL,
  created bigint NOT NULL,
  org_id uuid,
  outcome text NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now()
);

-- Events whose organization is not known yet (a subscription event before its checkout): kept, and applied in order
-- when checkout.session.completed links the subscription to an organization.
CREATE TABLE agentmode.stripe_parked_events (
  event_id text PRIMARY KEY REFERENCES agentmode.stripe_events (id),
  type text NOT NULL,
  created bigint NOT NULL,
  subscription_id text,
  org_id uuid,
  payload jsonb NOT NULL,
  parked_at timestamptz NOT NULL DEFAULT now(),
  applied_at timestamptz,
  outcome text
);
CREATE INDEX stripe_parked_events_pending_idx ON agentmode.stripe_parked_events (subscription_id, created)
  WHERE applied_at IS NULL;

-- Every subscription status an organization's events carried, applied or stale: past_due_since is derived from it,
-- so that it is right whatever order the events arrived in.
CREATE TABLE agentmode.subscription_status_history (
  event_id text PRIMARY KEY REFERENCES agentmode.stripe_events (id),
  org_id uuid NOT NULL REFERENCES agentmode.orgs (id) ON DELETE CASCADE,
  created bigint NOT NULL,
  status text NOT NULL
);
CREATE INDEX subscription_status_history_org_idx ON agentmode.subscription_status_history (org_id, created);

CREATE TABLE agentmode.billing_disputes (
  id text PRIMARY KEY,
  org_id uuid REFERENCES agentmode.orgs (id) ON DELETE SET NULL,
  -- Kept so a dispute that arrives before the customer is linked to an organization flags it when it is.
  customer_id text,
  charge_id text,
  amount bigint,
  currency text,
  reason text,
  status text,
  created bigint NOT NULL,
  event_id text NOT NULL REFERENCES agentmode.stripe_events (id),
  recorded_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE agentmode.stripe_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE agentmode.stripe_parked_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE agentmode.billing_disputes ENABLE ROW LEVEL SECURITY;
ALTER TABLE agentmode.subscription_status_history ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON agentmode.stripe_events, agentmode.stripe_parked_events, agentmode.billing_disputes,
  agentmode.subscription_status_history FROM anon, authenticated;

GRANT SELECT, UPDATE ON agentmode.orgs TO service_role;
GRANT SELECT, INSERT, UPDATE ON agentmode.stripe_events, agentmode.stripe_parked_events, agentmode.billing_disputes,
  agentmode.subscription_status_history TO service_role;

-- The plan an organization really has: pro while its subscription is active or trialing, and for a grace period of
-- 7 days after the current past_due/unpaid streak began (Stripe retries the payment meanwhile); free otherwise.
CREATE FUNCTION agentmode.org_effective_plan(o agentmode.orgs) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN o.prem_status <> 'pro' THEN 'free'
    WHEN o.subscription_status IN ('past_due', 'unpaid')
         AND o.past_due_since <= now() - interval '7 days' THEN 'free'
    ELSE 'pro'
  END
$$;

-- A user's plan: pro when any of their organizations is. Security invoker: a user sees only their own memberships.
CREATE FUNCTION agentmode.user_plan(p_user_id uuid) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN EXISTS (
    SELECT 1 FROM agentmode.user_orgs uo JOIN agentmode.orgs o ON o.id = uo.org_id
     WHERE uo.user_id = p_user_id AND agentmode.org_effective_plan(o) = 'pro'
  ) THEN 'pro' ELSE 'free' END
$$;

GRANT EXECUTE ON FUNCTION agentmode.org_effective_plan(agentmode.orgs), agentmode.user_plan(uuid)
  TO authenticated, service_role;
