"""Fault tests: a backing service down, slow or refusing, and what each route answers (and keeps) when it is."""
