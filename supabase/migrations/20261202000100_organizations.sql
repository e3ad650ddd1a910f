-- Seed 000's organizations, members, invites, projects and profiles (/opsboard), with the rules the real AgentOps
-- server leaves to chance enforced here, where concurrent requests cannot slip between a check and a write:
--   * roles rank owner > admin > developer > business_user; only owners grant, change or remove owner and admin,
--     admins manage developers and business users (agentmode.may_manage);
--   * an organization never loses its last owner (trigger keep_an_owner, serialised on the organization's row);
--   * plan limits (members, projects) are checked under the organization's row lock, so N concurrent invites or
--     project creations at the limit never pass it;
--   * invites match only the verified e-mail in auth.users, expire, and are one pending per (org, e-mail);
--   * project API keys are readable only through functions that hide them from business users.
--
-- Writes go only through the SECURITY DEFINER functions below (the role has no INSERT/UPDATE/DELETE on these tables),
-- so direct SQL as `authenticated` can do no more than the API. A refusal is raised as SQLSTATE P0001 whose message is
-- the API's error code (agentmode/errors.py) and whose hint is the human message; agentmode.membership maps it.

-- The local stand-in of auth.users (20261125000000_auth_shims.sql) lacks the columns these rules read; Supabase's has
-- them, so this is a no-op there.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                  WHERE table_schema = 'auth' AND table_name = 'users' AND column_name = 'email_confirmed_at') THEN
    ALTER TABLE auth.users ADD COLUMN email_confirmed_at timestamptz;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                  WHERE table_schema = 'auth' AND table_name = 'users' AND column_name = 'raw_user_meta_data') THEN
    ALTER TABLE auth.users ADD COLUMN raw_user_meta_data jsonb;
  END IF;
END
$$;

ALTER TABLE agentmode.user_orgs DROP CONSTRAINT user_orgs_role_check;
ALTER TABLE agentmode.user_orgs
  ADD CONSTRAINT user_orgs_role_check CHECK (role IN ('owner', 'admin', 'developer', 'business_user'));

-- Seed 000's "Demo Org": at most one, marked by an operator. Excluded from every list; its members are never listed.
ALTER TABLE agentmode.orgs ADD COLUMN is_demo boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX orgs_one_demo_idx ON agentmode.orgs (is_demo) WHERE is_demo;

ALTER TABLE agentmode.projects
  ADD COLUMN api_key uuid NOT NULL DEFAULT gen_random_uuid(),
  ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
  ADD CONSTRAINT projects_api_key_key UNIQUE (api_key),
  ADD CONSTRAINT projects_environment_check
    CHECK (environment IN ('production', 'staging', 'development', 'community'));

-- The plan limits of an organization; NULL is no limit. A free organization must be able to invite someone, so its
-- member limit is at least 2 (pending invites count towards it: they reserve a seat). Change a limit with an UPDATE.
CREATE TABLE agentmode.plan_limits (
  plan text PRIMARY KEY CHECK (plan IN ('free', 'pro')),
  max_members integer CHECK (max_members >= 2),
  max_projects integer CHECK (max_projects >= 1)
);
ALTER TABLE agentmode.plan_limits ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON agentmode.plan_limits FROM anon, authenticated;
INSERT INTO agentmode.plan_limits (plan, max_members, max_projects) VALUES ('free', 3, 3), ('pro', NULL, NULL);

-- Invites may send e-mail to any address: a per-user quota keeps an account from being a mail cannon.
INSERT INTO agentmode.rate_limit_policies (action, plan, limit_count, window_seconds) VALUES ('org_invite', 'any', 30, 3600);

-- Seed 000's users table. The e-mail is not here: it is auth.users' (verified, changed only through Supabase Auth).
CREATE TABLE agentmode.user_profiles (
  user_id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
  full_name text CHECK (length(full_name) <= 200),
  avatar_url text CHECK (length(avatar_url) <= 2048),
  billing_address jsonb,
  payment_method jsonb,
  survey_is_complete boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE agentmode.user_profiles ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON agentmode.user_profiles FROM anon, authenticated;
GRANT SELECT ON agentmode.user_profiles TO authenticated;
GRANT UPDATE (full_name, avatar_url, billing_address, payment_method, survey_is_complete, updated_at)
  ON agentmode.user_profiles TO authenticated;
CREATE POLICY user_profiles_select_own ON agentmode.user_profiles
  FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));
CREATE POLICY user_profiles_update_own ON agentmode.user_profiles
  FOR UPDATE TO authenticated USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));

CREATE TABLE agentmode.org_invites (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES agentmode.orgs (id) ON DELETE CASCADE,
  email text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 320),
  role text NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'business_user')),
  inviter_id uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'declined', 'revoked', 'expired')),
  -- How the invitee learns of it: 'email' once Supabase Auth accepted the invite mail (the row commits only then),
  -- 'in_app' for a registered address (GET /opsboard/orgs/invites shows it).
  delivery text NOT NULL CHECK (delivery IN ('email', 'in_app')),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  closed_at timestamptz
);
CREATE UNIQUE INDEX org_invites_one_pending_idx ON agentmode.org_invites (org_id, email) WHERE status = 'pending';
CREATE INDEX org_invites_pending_email_idx ON agentmode.org_invites (email) WHERE status = 'pending';
ALTER TABLE agentmode.org_invites ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON agentmode.org_invites FROM anon, authenticated;

-- Only the functions below read projects' api_key: no column grant for it.
REVOKE SELECT ON agentmode.projects FROM authenticated;
GRANT SELECT (id, org_id, name, environment, created_at, updated_at) ON agentmode.projects TO authenticated;

GRANT SELECT, INSERT, UPDATE, DELETE ON agentmode.user_orgs, agentmode.projects, agentmode.org_invites,
  agentmode.user_profiles TO service_role;
GRANT SELECT, INSERT, DELETE ON agentmode.orgs TO service_role;

-- Rules -----------------------------------------------------------------------------------------------------------

-- A subscription Stripe still bills, or may bill again once paid.
CREATE FUNCTION agentmode.subscription_is_live(p_status text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT p_status IN ('active', 'trialing', 'past_due', 'unpaid', 'incomplete')
$$;

CREATE FUNCTION agentmode.refuse(p_code text, p_message text) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = p_code, HINT = p_message;
END
$$;

-- Whether a member with role p_actor may grant, change or remove the role p_role.
CREATE FUNCTION agentmode.may_manage(p_actor text, p_role text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT p_actor = 'owner' OR (p_actor = 'admin' AND p_role IN ('developer', 'business_user'))
$$;

CREATE FUNCTION agentmode.role_rank(p_role text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE p_role WHEN 'owner' THEN 4 WHEN 'admin' THEN 3 WHEN 'developer' THEN 2 WHEN 'business_user' THEN 1 END
$$;

-- The caller's role in p_org, or NOT_FOUND (no such organization, or not a member: the same answer, so that existence
-- is not revealed). With p_lock the organization's row is locked: every membership, invite and project change of one
-- organization runs one at a time, which makes the limit checks and the last-owner rule exact.
CREATE FUNCTION agentmode.caller_role(p_org uuid, p_lock boolean) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_role text;
BEGIN
  IF p_lock THEN
    PERFORM 1 FROM agentmode.orgs o WHERE o.id = p_org FOR UPDATE;
  END IF;
  SELECT uo.role INTO v_role FROM agentmode.user_orgs uo WHERE uo.org_id = p_org AND uo.user_id = auth.uid();
  IF v_role IS NULL THEN
    PERFORM agentmode.refuse('NOT_FOUND', 'Organization not found.');
  END IF;
  RETURN v_role;
END
$$;

CREATE FUNCTION agentmode.require_role(p_org uuid, p_minimum text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_role text := agentmode.caller_role(p_org, true);
BEGIN
  IF agentmode.role_rank(v_role) < agentmode.role_rank(p_minimum) THEN
    PERFORM agentmode.refuse('ROLE_NOT_ALLOWED',
      format('This needs the %s role or higher in the organization.', p_minimum));
  END IF;
  RETURN v_role;
END
$$;

CREATE FUNCTION agentmode.org_limits(p_org uuid) RETURNS agentmode.plan_limits
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT l.* FROM agentmode.orgs o JOIN agentmode.plan_limits l ON l.plan = agentmode.org_effective_plan(o)
   WHERE o.id = p_org
$$;

-- Members plus pending, unexpired invites: an invite reserves its seat until it is accepted, declined or expires.
CREATE FUNCTION agentmode.seats_taken(p_org uuid) RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT (SELECT count(*) FROM agentmode.user_orgs uo WHERE uo.org_id = p_org)::integer
       + (SELECT count(*) FROM agentmode.org_invites i
           WHERE i.org_id = p_org AND i.status = 'pending' AND i.expires_at > now())::integer
$$;

CREATE FUNCTION agentmode.verified_email() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT lower(u.email) FROM auth.users u WHERE u.id = auth.uid() AND u.email_confirmed_at IS NOT NULL
$$;

-- The caller's e-mail as Supabase Auth holds it (the profile has none: nothing a user edits can stand for it).
CREATE FUNCTION agentmode.my_auth_email() RETURNS TABLE (email text, verified boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT u.email::text, u.email_confirmed_at IS NOT NULL FROM auth.users u WHERE u.id = auth.uid()
$$;

-- The last-owner rule, for every path that changes a membership (the functions below, a user deleted from
-- auth.users, direct SQL). The organization's row lock orders concurrent changes; the count after it sees the
-- committed ones, so two demotions of the last two owners cannot both pass.
CREATE FUNCTION agentmode.keep_an_owner() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF OLD.role <> 'owner' OR (TG_OP = 'UPDATE' AND NEW.role = 'owner') THEN
    RETURN NULL;
  END IF;
  PERFORM 1 FROM agentmode.orgs o WHERE o.id = OLD.org_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;  -- the organization itself is being deleted
  END IF;
  IF NOT EXISTS (SELECT 1 FROM agentmode.user_orgs uo WHERE uo.org_id = OLD.org_id AND uo.role = 'owner')
     AND EXISTS (SELECT 1 FROM agentmode.user_orgs uo WHERE uo.org_id = OLD.org_id) THEN
    PERFORM agentmode.refuse('LAST_OWNER', 'An organization keeps at least one owner: make another member owner first.');
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER user_orgs_keep_an_owner
  AFTER UPDATE OF role OR DELETE ON agentmode.user_orgs
  FOR EACH ROW EXECUTE FUNCTION agentmode.keep_an_owner();

-- Users get a profile, a personal organization they own with a "Default Project", and a business_user seat in the
-- demo organization when there is one, as the real server does; but only once their e-mail is confirmed (at signup,
-- or later): an address that was invited and never accepted (Supabase Auth creates an unconfirmed user for each
-- invite) gets nothing. `make token USER=…` locally inserts a confirmed user, so it goes through here too.
CREATE FUNCTION agentmode.provision_user(p_user uuid, p_email text, p_meta jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_org uuid;
  v_name text := coalesce(nullif(btrim(p_meta ->> 'full_name'), ''), split_part(p_email, '@', 1));
BEGIN
  IF EXISTS (SELECT 1 FROM agentmode.user_profiles p WHERE p.user_id = p_user) THEN
    RETURN;
  END IF;
  INSERT INTO agentmode.user_profiles (user_id, full_name) VALUES (p_user, nullif(left(v_name, 200), ''));
  INSERT INTO agentmode.orgs (name) VALUES (left(coalesce(nullif(v_name, ''), 'My') || '''s Org', 200))
  RETURNING id INTO v_org;
  INSERT INTO agentmode.user_orgs (user_id, org_id, role) VALUES (p_user, v_org, 'owner');
  INSERT INTO agentmode.projects (org_id, name) VALUES (v_org, 'Default Project');
  INSERT INTO agentmode.user_orgs (user_id, org_id, role)
    SELECT p_user, o.id, 'business_user' FROM agentmode.orgs o WHERE o.is_demo;
END
$$;

CREATE FUNCTION agentmode.handle_new_user() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM agentmode.provision_user(NEW.id, NEW.email, NEW.raw_user_meta_data);
  RETURN NULL;
END
$$;

CREATE TRIGGER on_auth_user_created
  AFTER INSERT ON auth.users
  FOR EACH ROW WHEN (NEW.email_confirmed_at IS NOT NULL) EXECUTE FUNCTION agentmode.handle_new_user();
CREATE TRIGGER on_auth_user_confirmed
  AFTER UPDATE OF email_confirmed_at ON auth.users
  FOR EACH ROW WHEN (OLD.email_confirmed_at IS NULL AND NEW.email_confirmed_at IS NOT NULL)
  EXECUTE FUNCTION agentmode.handle_new_user();

-- Users confirmed before this migration: the same, once.
SELECT agentmode.provision_user(u.id, u.email, u.raw_user_meta_data)
  FROM auth.users u WHERE u.email_confirmed_at IS NOT NULL;

-- Organizations ---------------------------------------------------------------------------------------------------

-- One row per organization of the caller (p_org NULL: all but the demo organization) with what GET /opsboard/orgs
-- shows: the caller's role, counts and the plan's limits. Billing columns come from the Stripe webhook's writes.
CREATE FUNCTION agentmode.my_orgs(p_org uuid DEFAULT NULL)
RETURNS TABLE (
  id uuid, name text, prem_status text, plan text, is_demo boolean, subscription_id text, subscription_status text,
  subscription_end_date bigint, subscription_cancel_at_period_end boolean, role text, member_count integer,
  pending_invite_count integer, project_count integer, max_member_count integer, max_project_count integer,
  created_at timestamptz
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT o.id, o.name, o.prem_status, agentmode.org_effective_plan(o), o.is_demo, o.subscription_id,
         o.subscription_status, o.subscription_end_date, o.subscription_cancel_at_period_end, me.role,
         (SELECT count(*) FROM agentmode.user_orgs m WHERE m.org_id = o.id)::integer,
         (SELECT count(*) FROM agentmode.org_invites i
           WHERE i.org_id = o.id AND i.status = 'pending' AND i.expires_at > now())::integer,
         (SELECT count(*) FROM agentmode.projects p WHERE p.org_id = o.id)::integer,
         l.max_members, l.max_projects, o.created_at
    FROM agentmode.user_orgs me
    JOIN agentmode.orgs o ON o.id = me.org_id
    JOIN agentmode.plan_limits l ON l.plan = agentmode.org_effective_plan(o)
   WHERE me.user_id = auth.uid()
     AND (CASE WHEN p_org IS NULL THEN NOT o.is_demo ELSE o.id = p_org END)
   ORDER BY o.created_at, o.id
$$;

-- The members of one of the caller's organizations with their auth e-mail; none for the demo organization.
CREATE FUNCTION agentmode.org_members(p_org uuid)
RETURNS TABLE (user_id uuid, role text, email text, joined_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM agentmode.caller_role(p_org, false);
  RETURN QUERY
    SELECT uo.user_id, uo.role, u.email::text, uo.created_at
      FROM agentmode.user_orgs uo
      JOIN agentmode.orgs o ON o.id = uo.org_id AND NOT o.is_demo
      JOIN auth.users u ON u.id = uo.user_id
     WHERE uo.org_id = p_org
     ORDER BY agentmode.role_rank(uo.role) DESC, uo.created_at, uo.user_id;
END
$$;

CREATE FUNCTION agentmode.create_org(p_name text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_org uuid;
BEGIN
  IF auth.uid() IS NULL THEN
    RAISE EXCEPTION 'no user in the JWT claims' USING ERRCODE = '42501';
  END IF;
  INSERT INTO agentmode.orgs (name) VALUES (p_name) RETURNING id INTO v_org;
  INSERT INTO agentmode.user_orgs (user_id, org_id, role) VALUES (auth.uid(), v_org, 'owner');
  RETURN v_org;
END
$$;

CREATE FUNCTION agentmode.rename_org(p_org uuid, p_name text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM agentmode.require_role(p_org, 'admin');
  UPDATE agentmode.orgs o SET name = p_name, updated_at = now() WHERE o.id = p_org;
END
$$;

-- Owners only. Refused while the organization pays (a live subscription is cancelled first, with
-- POST .../cancel-subscription, so that no subscription is left billing an organization that no longer exists) and
-- while it has projects (their traces would be orphaned in ClickHouse).
CREATE FUNCTION agentmode.delete_org(p_org uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_org agentmode.orgs;
BEGIN
  PERFORM agentmode.require_role(p_org, 'owner');
  SELECT * INTO v_org FROM agentmode.orgs o WHERE o.id = p_org;
  IF v_org.is_demo THEN
    PERFORM agentmode.refuse('ROLE_NOT_ALLOWED', 'The demo organization cannot be deleted.');
  END IF;
  IF v_org.subscription_id IS NOT NULL
     AND agentmode.subscription_is_live(coalesce(v_org.subscription_status, 'active')) THEN
    PERFORM agentmode.refuse('ORG_HAS_SUBSCRIPTION', 'Cancel the organization''s subscription before deleting it.');
  END IF;
  IF EXISTS (SELECT 1 FROM agentmode.projects p WHERE p.org_id = p_org) THEN
    PERFORM agentmode.refuse('ORG_HAS_PROJECTS', 'Delete the organization''s projects before deleting it.');
  END IF;
  DELETE FROM agentmode.orgs o WHERE o.id = p_org;
END
$$;

-- Members ---------------------------------------------------------------------------------------------------------

CREATE FUNCTION agentmode.member_role_for_update(p_org uuid, p_user uuid) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_role text;
BEGIN
  SELECT uo.role INTO v_role FROM agentmode.user_orgs uo WHERE uo.org_id = p_org AND uo.user_id = p_user FOR UPDATE;
  IF v_role IS NULL THEN
    PERFORM agentmode.refuse('MEMBER_NOT_FOUND', 'No such member in this organization.');
  END IF;
  RETURN v_role;
END
$$;

CREATE FUNCTION agentmode.change_member_role(p_org uuid, p_user uuid, p_role text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_actor text := agentmode.require_role(p_org, 'admin');
  v_current text := agentmode.member_role_for_update(p_org, p_user);
BEGIN
  IF agentmode.role_rank(p_role) IS NULL THEN
    PERFORM agentmode.refuse('VALIDATION_ERROR', 'Unknown role.');
  END IF;
  IF NOT (agentmode.may_manage(v_actor, v_current) AND agentmode.may_manage(v_actor, p_role)) THEN
    PERFORM agentmode.refuse('ROLE_NOT_ALLOWED', 'Only owners grant, change or remove the owner and admin roles.');
  END IF;
  UPDATE agentmode.user_orgs uo SET role = p_role WHERE uo.org_id = p_org AND uo.user_id = p_user;
END
$$;

CREATE FUNCTION agentmode.remove_member(p_org uuid, p_user uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_actor text := agentmode.require_role(p_org, 'admin');
  v_current text := agentmode.member_role_for_update(p_org, p_user);
BEGIN
  IF NOT agentmode.may_manage(v_actor, v_current) THEN
    PERFORM agentmode.refuse('ROLE_NOT_ALLOWED', 'Only owners grant, change or remove the owner and admin roles.');
  END IF;
  DELETE FROM agentmode.user_orgs uo WHERE uo.org_id = p_org AND uo.user_id = p_user;
END
$$;

CREATE FUNCTION agentmode.leave_org(p_org uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM agentmode.caller_role(p_org, true);
  DELETE FROM agentmode.user_orgs uo WHERE uo.org_id = p_org AND uo.user_id = auth.uid();
END
$$;

-- Invites ---------------------------------------------------------------------------------------------------------

-- Records an invite of p_email (lowercase) as p_role. The caller sends the e-mail in the same transaction when
-- `registered` is false and commits only once the send succeeded; a registered address sees it in the app instead.
CREATE FUNCTION agentmode.create_invite(p_org uuid, p_email text, p_role text, p_ttl_days integer)
RETURNS TABLE (invite_id uuid, registered boolean, org_name text, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_actor text := agentmode.require_role(p_org, 'admin');
  v_limits agentmode.plan_limits := agentmode.org_limits(p_org);
  v_registered boolean;
  v_invite agentmode.org_invites;
BEGIN
  IF agentmode.role_rank(p_role) IS NULL OR p_email IS DISTINCT FROM lower(p_email) THEN
    PERFORM agentmode.refuse('VALIDATION_ERROR', 'A lowercase e-mail and a known role are required.');
  END IF;
  IF NOT agentmode.may_manage(v_actor, p_role) THEN
    PERFORM agentmode.refuse('ROLE_NOT_ALLOWED', 'Only owners invite owners and admins.');
  END IF;
  IF (SELECT o.is_demo FROM agentmode.orgs o WHERE o.id = p_org) THEN
    PERFORM agentmode.refuse('ROLE_NOT_ALLOWED', 'Nobody is invited to the demo organization: every user is in it.');
  END IF;
  IF EXISTS (SELECT 1 FROM agentmode.user_orgs uo JOIN auth.users u ON u.id = uo.user_id
              WHERE uo.org_id = p_org AND lower(u.email) = p_email) THEN
    PERFORM agentmode.refuse('ALREADY_MEMBER', 'This address already belongs to a member.');
  END IF;
  UPDATE agentmode.org_invites i SET status = 'expired', closed_at = now()
   WHERE i.org_id = p_org AND i.email = p_email AND i.status = 'pending' AND i.expires_at <= now();
  IF EXISTS (SELECT 1 FROM agentmode.org_invites i
              WHERE i.org_id = p_org AND i.email = p_email AND i.status = 'pending') THEN
    PERFORM agentmode.refuse('INVITE_PENDING', 'This address already has a pending invite: revoke it to invite again.');
  END IF;
  IF v_limits.max_members IS NOT NULL AND agentmode.seats_taken(p_org) >= v_limits.max_members THEN
    PERFORM agentmode.refuse('PLAN_LIMIT_REACHED',
      format('The plan allows %s members, pending invites included.', v_limits.max_members));
  END IF;
  v_registered := EXISTS (SELECT 1 FROM auth.users u WHERE lower(u.email) = p_email);
  INSERT INTO agentmode.org_invites (org_id, email, role, inviter_id, delivery, expires_at)
  VALUES (p_org, p_email, p_role, auth.uid(), CASE WHEN v_registered THEN 'in_app' ELSE 'email' END,
          now() + make_interval(days => least(greatest(p_ttl_days, 1), 30)))
  RETURNING * INTO v_invite;
  RETURN QUERY SELECT v_invite.id, v_registered, (SELECT o.name FROM agentmode.orgs o WHERE o.id = p_org),
    v_invite.expires_at;
END
$$;

-- Supabase Auth answered that the address is registered after all (signed up meanwhile): the invite shows in the app.
CREATE FUNCTION agentmode.mark_invite_in_app(p_invite uuid) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
  UPDATE agentmode.org_invites i SET delivery = 'in_app'
   WHERE i.id = p_invite AND i.inviter_id = auth.uid() AND i.status = 'pending'
$$;

-- The pending invites of one organization (admins and owners).
CREATE FUNCTION agentmode.org_pending_invites(p_org uuid)
RETURNS TABLE (id uuid, email text, role text, inviter_id uuid, created_at timestamptz, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM agentmode.require_role(p_org, 'admin');
  RETURN QUERY
    SELECT i.id, i.email, i.role, i.inviter_id, i.created_at, i.expires_at FROM agentmode.org_invites i
     WHERE i.org_id = p_org AND i.status = 'pending' AND i.expires_at > now()
     ORDER BY i.created_at, i.id;
END
$$;

CREATE FUNCTION agentmode.revoke_invite(p_org uuid, p_email text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_actor text := agentmode.require_role(p_org, 'admin');
  v_invite agentmode.org_invites;
BEGIN
  SELECT * INTO v_invite FROM agentmode.org_invites i
   WHERE i.org_id = p_org AND i.email = lower(p_email) AND i.status = 'pending' AND i.expires_at > now();
  IF v_invite.id IS NULL THEN
    PERFORM agentmode.refuse('INVITE_NOT_FOUND', 'No pending invite for this address.');
  END IF;
  IF NOT agentmode.may_manage(v_actor, v_invite.role) THEN
    PERFORM agentmode.refuse('ROLE_NOT_ALLOWED', 'Only owners revoke invites to the owner and admin roles.');
  END IF;
  UPDATE agentmode.org_invites i SET status = 'revoked', closed_at = now() WHERE i.id = v_invite.id;
END
$$;

-- The caller's pending invites, matched on their verified auth e-mail only.
CREATE FUNCTION agentmode.my_invites()
RETURNS TABLE (org_id uuid, org_name text, role text, inviter_id uuid, email text, created_at timestamptz,
               expires_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT i.org_id, o.name, i.role, i.inviter_id, i.email, i.created_at, i.expires_at
    FROM agentmode.org_invites i JOIN agentmode.orgs o ON o.id = i.org_id
   WHERE i.email = agentmode.verified_email() AND i.status = 'pending' AND i.expires_at > now()
   ORDER BY i.created_at, i.id
$$;

-- Closes the caller's pending invite to p_org as accepted or declined; accepting joins with the invite's role after
-- checking the plan's member limit again (the organization may have been downgraded since).
CREATE FUNCTION agentmode.answer_invite(p_org uuid, p_accept boolean) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_email text := agentmode.verified_email();
  v_invite agentmode.org_invites;
  v_limits agentmode.plan_limits;
BEGIN
  PERFORM 1 FROM agentmode.orgs o WHERE o.id = p_org FOR UPDATE;
  SELECT * INTO v_invite FROM agentmode.org_invites i
   WHERE i.org_id = p_org AND i.email = v_email AND i.status = 'pending';
  IF v_email IS NULL OR v_invite.id IS NULL THEN
    PERFORM agentmode.refuse('INVITE_NOT_FOUND', 'No pending invite to this organization for your verified e-mail.');
  END IF;
  IF v_invite.expires_at <= now() THEN
    UPDATE agentmode.org_invites i SET status = 'expired', closed_at = now() WHERE i.id = v_invite.id;
    RETURN 'expired';
  END IF;
  IF NOT p_accept THEN
    UPDATE agentmode.org_invites i SET status = 'declined', closed_at = now() WHERE i.id = v_invite.id;
    RETURN 'declined';
  END IF;
  IF EXISTS (SELECT 1 FROM agentmode.user_orgs uo WHERE uo.org_id = p_org AND uo.user_id = auth.uid()) THEN
    PERFORM agentmode.refuse('ALREADY_MEMBER', 'You are already a member of this organization.');
  END IF;
  v_limits := agentmode.org_limits(p_org);
  IF v_limits.max_members IS NOT NULL
     AND (SELECT count(*) FROM agentmode.user_orgs uo WHERE uo.org_id = p_org) >= v_limits.max_members THEN
    PERFORM agentmode.refuse('PLAN_LIMIT_REACHED',
      format('The organization''s plan allows %s members and has no seat left.', v_limits.max_members));
  END IF;
  INSERT INTO agentmode.user_orgs (user_id, org_id, role) VALUES (auth.uid(), p_org, v_invite.role);
  UPDATE agentmode.org_invites i SET status = 'accepted', closed_at = now() WHERE i.id = v_invite.id;
  RETURN 'accepted';
END
$$;

-- Projects --------------------------------------------------------------------------------------------------------

-- The caller's projects (p_project NULL: all but the demo organization's) with their organization and the caller's
-- role. The API key is shown to owners, admins and developers; a business user gets NULL.
CREATE FUNCTION agentmode.my_projects(p_project uuid DEFAULT NULL)
RETURNS TABLE (
  id uuid, org_id uuid, name text, environment text, api_key uuid, created_at timestamptz, updated_at timestamptz,
  org_name text, org_prem_status text, org_plan text, role text
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT p.id, p.org_id, p.name, p.environment,
         CASE WHEN me.role = 'business_user' THEN NULL ELSE p.api_key END,
         p.created_at, p.updated_at, o.name, o.prem_status, agentmode.org_effective_plan(o), me.role
    FROM agentmode.projects p
    JOIN agentmode.orgs o ON o.id = p.org_id
    JOIN agentmode.user_orgs me ON me.org_id = p.org_id AND me.user_id = auth.uid()
   WHERE CASE WHEN p_project IS NULL THEN NOT o.is_demo ELSE p.id = p_project END
   ORDER BY o.created_at, o.id, p.created_at, p.id
$$;

-- The organization of a project the caller may see, locked, with the caller's role checked; NOT_FOUND otherwise.
CREATE FUNCTION agentmode.project_org_for_update(p_project uuid, p_minimum text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_org uuid;
BEGIN
  SELECT p.org_id INTO v_org FROM agentmode.projects p
    JOIN agentmode.user_orgs me ON me.org_id = p.org_id AND me.user_id = auth.uid()
   WHERE p.id = p_project;
  IF v_org IS NULL THEN
    PERFORM agentmode.refuse('NOT_FOUND', 'Project not found.');
  END IF;
  PERFORM agentmode.require_role(v_org, p_minimum);
  RETURN v_org;
END
$$;

CREATE FUNCTION agentmode.create_project(p_org uuid, p_name text, p_environment text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_limits agentmode.plan_limits;
  v_project uuid;
BEGIN
  PERFORM agentmode.require_role(p_org, 'admin');
  v_limits := agentmode.org_limits(p_org);
  IF v_limits.max_projects IS NOT NULL
     AND (SELECT count(*) FROM agentmode.projects p WHERE p.org_id = p_org) >= v_limits.max_projects THEN
    PERFORM agentmode.refuse('PLAN_LIMIT_REACHED', format('The plan allows %s projects.', v_limits.max_projects));
  END IF;
  INSERT INTO agentmode.projects (org_id, name, environment) VALUES (p_org, p_name, p_environment)
  RETURNING id INTO v_project;
  RETURN v_project;
END
$$;

-- NULL leaves a field as it is.
CREATE FUNCTION agentmode.update_project(p_project uuid, p_name text, p_environment text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM agentmode.project_org_for_update(p_project, 'admin');
  UPDATE agentmode.projects p
     SET name = coalesce(p_name, p.name), environment = coalesce(p_environment, p.environment), updated_at = now()
   WHERE p.id = p_project;
END
$$;

CREATE FUNCTION agentmode.delete_project(p_project uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM agentmode.project_org_for_update(p_project, 'owner');
  DELETE FROM agentmode.projects p WHERE p.id = p_project;
END
$$;

-- The old key stops resolving (project_for_api_key) in the same commit that makes the new one.
CREATE FUNCTION agentmode.regenerate_project_key(p_project uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM agentmode.project_org_for_update(p_project, 'admin');
  UPDATE agentmode.projects p SET api_key = gen_random_uuid(), updated_at = now() WHERE p.id = p_project;
END
$$;

-- What an ingestion endpoint (the SDK's side, not in this repository) resolves a key with: the service only.
CREATE FUNCTION agentmode.project_for_api_key(p_key uuid) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT p.id FROM agentmode.projects p WHERE p.api_key = p_key
$$;

-- Grants ----------------------------------------------------------------------------------------------------------

DO $$
DECLARE
  v_function text;
BEGIN
  FOREACH v_function IN ARRAY ARRAY[
    'refuse(text, text)', 'subscription_is_live(text)', 'may_manage(text, text)', 'role_rank(text)',
    'caller_role(uuid, boolean)', 'require_role(uuid, text)', 'org_limits(uuid)', 'seats_taken(uuid)',
    'verified_email()', 'my_auth_email()', 'keep_an_owner()', 'provision_user(uuid, text, jsonb)', 'handle_new_user()',
    'my_orgs(uuid)', 'org_members(uuid)', 'create_org(text)', 'rename_org(uuid, text)', 'delete_org(uuid)', 'member_role_for_update(uuid, uuid)', 'change_member_role(uuid, uuid, text)',
    'remove_member(uuid, uuid)', 'leave_org(uuid)', 'create_invite(uuid, text, text, integer)',
    'mark_invite_in_app(uuid)', 'org_pending_invites(uuid)', 'revoke_invite(uuid, text)', 'my_invites()',
    'answer_invite(uuid, boolean)', 'my_projects(uuid)', 'project_org_for_update(uuid, text)',
    'create_project(uuid, text, text)', 'update_project(uuid, text, text)', 'delete_project(uuid)',
    'regenerate_project_key(uuid)', 'project_for_api_key(uuid)'
  ] LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION agentmode.%s FROM PUBLIC', v_function);
  END LOOP;
END
$$;

GRANT EXECUTE ON FUNCTION
  agentmode.role_rank(text), agentmode.may_manage(text, text), agentmode.subscription_is_live(text),
  agentmode.verified_email(), agentmode.my_auth_email(),
  agentmode.my_orgs(uuid), agentmode.org_members(uuid), agentmode.create_org(text), agentmode.rename_org(uuid, text),
  agentmode.delete_org(uuid), agentmode.change_member_role(uuid, uuid, text), agentmode.remove_member(uuid, uuid),
  agentmode.leave_org(uuid), agentmode.create_invite(uuid, text, text, integer), agentmode.mark_invite_in_app(uuid),
  agentmode.org_pending_invites(uuid), agentmode.revoke_invite(uuid, text), agentmode.my_invites(),
  agentmode.answer_invite(uuid, boolean), agentmode.my_projects(uuid), agentmode.create_project(uuid, text, text),
  agentmode.update_project(uuid, text, text), agentmode.delete_project(uuid), agentmode.regenerate_project_key(uuid)
  TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION agentmode.project_for_api_key(uuid) TO service_role;
