"""The local stack: embedded Postgres, migrations, and an API Gateway HTTP API (v2) emulator for the functions."""
