"""agent_status's own code: the status view with its ETA, and the ordered event log for catching up."""
