"""agent_start's own code: request/response models and the start service (the runner queue is the layer's)."""
