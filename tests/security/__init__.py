"""Security suite: forged tokens, other tenants' ids, oversized and hostile input, forged webhooks (all in-process)."""
