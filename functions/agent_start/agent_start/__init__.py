"""agent_start's own code: request/response models, the start service and its SQS publisher."""
