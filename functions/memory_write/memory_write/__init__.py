"""memory_write's own code: the request body and the embed-then-upsert service."""
