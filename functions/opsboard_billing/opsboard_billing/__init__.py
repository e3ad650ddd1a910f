"""Seed 000's billing routes under /opsboard/orgs/{org_id}/: checkout, cancel, reactivate, discount codes."""
