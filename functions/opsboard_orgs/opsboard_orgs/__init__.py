"""Seed 000's /opsboard/orgs routes."""
