"""The caller's own profile (seed 000 /opsboard users): read, update, survey completion."""
