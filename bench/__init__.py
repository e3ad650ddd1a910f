"""Benchmarks of the built Lambda functions: `make bench` (cold start and warm latency, written to bench/results/)."""
