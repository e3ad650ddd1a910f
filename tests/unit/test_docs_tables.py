"""The docs name only tables that exist, and docs/architecture.md describes every table the migrations create.

Which backticked names count as tables (in README.md and docs/*.md):
- a name qualified by a Postgres schema the migrations create tables in (`agentmode.credit_balances`, `auth.users`):
  it must be created by supabase/migrations/*.sql, as a table or, for names like `agentmode.check_rate_limit`, a
  function;
- a name starting with `otel_`, the ClickHouse tables' prefix: it must be created by clickhouse/*.sql, as a table
  or a materialized view;
- a name in the first column of a Markdown table whose first header is "Table": it must be a table of either folder.
A table counts as described when docs/architecture.md has its name in backticks, bare or schema-qualified.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_MIGRATIONS = sorted((ROOT / "supabase" / "migrations").glob("*.sql"))
CLICKHOUSE_MIGRATIONS = sorted((ROOT / "clickhouse").glob("*.sql"))
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ARCHITECTURE = ROOT / "docs" / "architecture.md"

NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?"
CREATE_TABLE = re.compile(rf"CREATE (?:UNLOGGED )?TABLE (?:IF NOT EXISTS )?({NAME})", re.IGNORECASE)
CREATE_MATERIALIZED_VIEW = re.compile(rf"CREATE MATERIALIZED VIEW (?:IF NOT EXISTS )?({NAME})", re.IGNORECASE)
CREATE_FUNCTION = re.compile(rf"CREATE (?:OR REPLACE )?FUNCTION ({NAME})", re.IGNORECASE)
BACKTICKED = re.compile(r"`([^`\n]+)`")


def created(pattern: re.Pattern[str], files: list[Path]) -> set[str]:
    return {name for path in files for name in pattern.findall(path.read_text())}


POSTGRES_TABLES = created(CREATE_TABLE, POSTGRES_MIGRATIONS)
POSTGRES_FUNCTIONS = created(CREATE_FUNCTION, POSTGRES_MIGRATIONS)
POSTGRES_SCHEMAS = {name.split(".")[0] for name in POSTGRES_TABLES}
CLICKHOUSE_TABLES = created(CREATE_TABLE, CLICKHOUSE_MIGRATIONS)
CLICKHOUSE_VIEWS = created(CREATE_MATERIALIZED_VIEW, CLICKHOUSE_MIGRATIONS)
ALL_TABLE_NAMES = CLICKHOUSE_TABLES | POSTGRES_TABLES | {name.split(".")[1] for name in POSTGRES_TABLES}


def first_column_of_table_tables(text: str) -> list[str]:
    """The first cells of the rows of every Markdown table whose header starts with `| Table |`."""
    cells: list[str] = []
    in_table = False
    for line in text.splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        first_cell = line.split("|")[1].strip()
        if first_cell == "Table":
            in_table = True
        elif in_table and not set(first_cell) <= {"-", ":"}:
            cells.append(first_cell)
    return cells


def unknown_tables(path: Path) -> list[str]:
    text = path.read_text()
    unknown = []
    for name in BACKTICKED.findall(text):
        schema, _, table = name.partition(".")
        if table and schema in POSTGRES_SCHEMAS and re.fullmatch(NAME, name):
            if name not in POSTGRES_TABLES | POSTGRES_FUNCTIONS:
                unknown.append(name)
        elif name.startswith("otel_") and name not in CLICKHOUSE_TABLES | CLICKHOUSE_VIEWS:
            unknown.append(name)
    for cell in first_column_of_table_tables(text):
        unknown += [name for name in BACKTICKED.findall(cell) if name not in ALL_TABLE_NAMES]
    return unknown


def test_the_migrations_create_tables_in_both_databases() -> None:
    assert "agentmode.agent_sessions" in POSTGRES_TABLES
    assert "otel_traces" in CLICKHOUSE_TABLES


def test_every_table_the_docs_name_exists() -> None:
    unknown = {path.relative_to(ROOT).as_posix(): names for path in DOCS if (names := unknown_tables(path))}

    assert unknown == {}, f"tables named in the docs that no migration creates (fix the doc or the name): {unknown}"


def test_every_table_the_migrations_create_is_described_in_the_architecture() -> None:
    mentioned = set(BACKTICKED.findall(ARCHITECTURE.read_text()))

    undescribed = sorted(
        table for table in POSTGRES_TABLES | CLICKHOUSE_TABLES if table not in mentioned and table.split(".")[-1] not in mentioned
    )

    assert undescribed == [], f"tables the migrations create that docs/architecture.md does not describe: {undescribed}"
