"""Projects of the caller's organizations (seed 000 /opsboard projects): their API keys and trace counts."""
