"""The ClickHouse schema in clickhouse/*.sql, applied in name order, once each, and the model price table loaded.

The files create their tables in the connection's current database (CLICKHOUSE_DATABASE on a server). Where a
statement must name that database (a table read by a column computed at insert, which would otherwise be looked up in
the inserting session's database), it writes `{database}`, filled in here.

`make clickhouse-schema` runs it against the ClickHouse in the environment (CLICKHOUSE_HOST etc., through
clickhouse-connect; chDB under CLICKHOUSE_LOCAL_PATH when no host is set): a deploy runs it before the functions that
read the new schema.
"""

import csv
import re
from pathlib import Path
from typing import TYPE_CHECKING

from local.lambda_runtime import use_layer

if TYPE_CHECKING:  # the layer is on the path only where the functions run
    from agentmode.clickhouse import ClickHouse

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = ROOT / "clickhouse"
PRICES_FILE = SCHEMA_DIR / "model_prices.csv"
# Statements end with a semicolon at the end of a line; the files hold no semicolons inside strings.
_STATEMENT_END = re.compile(r";\s*$", re.MULTILINE)
DATABASE_PLACEHOLDER = "{database}"
# A bare identifier: it is substituted into SQL text, inside string literals as well as outside them.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def statements(sql: str) -> list[str]:
    """The file's statements; a part that is only comments (a comment line ending in ';') is not one: a ClickHouse
    server refuses it (Code 62, Empty query) where chDB runs it as nothing."""
    return [part.strip() for part in _STATEMENT_END.split(sql) if _without_comments(part).strip()]


def _without_comments(part: str) -> str:
    return "\n".join(line for line in part.splitlines() if not line.strip().startswith("--"))


def current_database(ch: "ClickHouse") -> str:
    """The database unqualified names resolve to, which is where the schema's tables are created."""
    database: str = ch.query("SELECT currentDatabase() AS name", {})[0]["name"]
    if not _IDENTIFIER.fullmatch(database):
        raise ValueError("the ClickHouse database name must be a plain identifier (letters, digits, underscores)")
    return database


def with_database(sql: str, database: str) -> str:
    return sql.replace(DATABASE_PLACEHOLDER, database)


def apply_schema(ch: "ClickHouse", schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """Applies each not yet applied file; returns their names. Files are trusted SQL from the repository."""
    ch.command(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version String, applied_at DateTime DEFAULT now())"
        " ENGINE = MergeTree ORDER BY version"
    )
    done = {row["version"] for row in ch.query("SELECT version FROM schema_migrations", {})}
    database = current_database(ch)
    applied = []
    for path in sorted(schema_dir.glob("*.sql")):
        if path.stem in done:
            continue
        for statement in statements(with_database(path.read_text(), database)):
            ch.command(statement)
        ch.command("INSERT INTO schema_migrations (version) VALUES ({version:String})", {"version": path.stem})
        applied.append(path.name)
    load_model_prices(ch)
    return applied


def load_model_prices(ch: "ClickHouse", prices_file: Path = PRICES_FILE) -> int:
    """Loads every row of the price file; the table keeps the latest row per model, so a reload updates prices."""
    with prices_file.open(newline="") as handle:
        rows = [
            {
                "model": row["model"].strip().lower(),
                "input_per_million": float(row["input_per_million"]),
                "output_per_million": float(row["output_per_million"]),
                "cache_read_per_million": float(row["cache_read_per_million"]),
            }
            for row in csv.DictReader(handle)
        ]
    ch.insert("model_prices", rows)
    return len(rows)


def schema_client() -> "ClickHouse":
    """The server in CLICKHOUSE_HOST through clickhouse-connect (local.clickhouse_driver), else the local chDB."""
    use_layer()
    from agentmode.clickhouse import get_clickhouse
    from agentmode.settings import get_settings
    from local.clickhouse_driver import server_client

    settings = get_settings()
    return server_client(settings) if settings.clickhouse_host else get_clickhouse(settings)


def main() -> None:
    ch = schema_client()
    applied = apply_schema(ch)
    print(f"clickhouse schema: {len(applied)} file(s) applied: {', '.join(applied) or 'none'}; model prices loaded")


if __name__ == "__main__":
    main()
