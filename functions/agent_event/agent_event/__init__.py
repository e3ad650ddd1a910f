"""agent_event's own code: the event body, the session state machine and the Realtime outbox."""
