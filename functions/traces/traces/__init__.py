"""Traces and metrics of a project, read from ClickHouse (seed 000, V4)."""
