-- Row level security: a user sees and changes only their own rows, whatever a query forgets to filter.

ALTER TABLE agentmode.orgs ENABLE ROW LEVEL SECURITY;
ALTER TABLE agentmode.user_orgs ENABLE ROW LEVEL SECURITY;
ALTER TABLE agentmode.projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE agentmode.agent_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE agentmode.agent_execution_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE agentmode.agent_memory ENABLE ROW LEVEL SECURITY;
ALTER TABLE agentmode.credit_balances ENABLE ROW LEVEL SECURITY;
ALTER TABLE agentmode.rate_limit_hits ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON ALL TABLES IN SCHEMA agentmode FROM anon, authenticated;

-- Membership and billing are written by the service (webhooks, admin); users only read them.
GRANT SELECT ON agentmode.orgs, agentmode.user_orgs, agentmode.projects TO authenticated;

CREATE POLICY user_orgs_select_own ON agentmode.user_orgs
  FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));

CREATE POLICY orgs_select_member ON agentmode.orgs
  FOR SELECT TO authenticated USING (
    id IN (SELECT org_id FROM agentmode.user_orgs WHERE user_id = (SELECT auth.uid()))
  );

CREATE POLICY projects_select_member ON agentmode.projects
  FOR SELECT TO authenticated USING (
    org_id IN (SELECT org_id FROM agentmode.user_orgs WHERE user_id = (SELECT auth.uid()))
  );

GRANT SELECT, INSERT ON agentmode.agent_sessions TO authenticated;
GRANT UPDATE (status, current_step, current_step_index, progress_percentage, completed_steps, result,
              error_message, last_seq, completed_at, updated_at)
  ON agentmode.agent_sessions TO authenticated;

CREATE POLICY agent_sessions_select_own ON agentmode.agent_sessions
  FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));
CREATE POLICY agent_sessions_insert_own ON agentmode.agent_sessions
  FOR INSERT TO authenticated WITH CHECK (user_id = (SELECT auth.uid()));
CREATE POLICY agent_sessions_update_own ON agentmode.agent_sessions
  FOR UPDATE TO authenticated USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));

GRANT SELECT, INSERT ON agentmode.agent_execution_logs TO authenticated;
GRANT UPDATE (published_at) ON agentmode.agent_execution_logs TO authenticated;

CREATE POLICY agent_execution_logs_select_own ON agentmode.agent_execution_logs
  FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));
CREATE POLICY agent_execution_logs_insert_own ON agentmode.agent_execution_logs
  FOR INSERT TO authenticated WITH CHECK (
    user_id = (SELECT auth.uid())
    AND EXISTS (SELECT 1 FROM agentmode.agent_sessions s WHERE s.id = session_id AND s.user_id = (SELECT auth.uid()))
  );
CREATE POLICY agent_execution_logs_update_own ON agentmode.agent_execution_logs
  FOR UPDATE TO authenticated USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));

GRANT SELECT, INSERT, UPDATE, DELETE ON agentmode.agent_memory TO authenticated;
CREATE POLICY agent_memory_all_own ON agentmode.agent_memory
  FOR ALL TO authenticated USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));

GRANT SELECT ON agentmode.credit_balances TO authenticated;
CREATE POLICY credit_balances_select_own ON agentmode.credit_balances
  FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));

-- rate_limit_hits: RLS on, no policy, no grant: reachable only through check_rate_limit below.
