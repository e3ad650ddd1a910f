"""memory_read's own code: the response shape and the semantic search with its per-user access path."""
