"""agent_control's own code: the user's answer to an agent's question, and cancelling a run (docs/runner.md)."""
