"""What a request to the ClickHouse HTTP stand-in (tests.clickhouse_http) asks, read as ClickHouse 26 reads it: the
statement from the `query` parameter, the body or a multipart form; a compressed body; an INSERT's data after its
FORMAT line; `param_*` values and the settings of one statement; the statement's first keyword and output format."""

import gzip
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import lz4.frame  # type: ignore[import-untyped]
from backports import zstd

from tests.clickhouse_http_replies import ServerError, not_implemented

# Parameters ClickHouse's HTTP handler consumes itself; every other one (but param_*) is a setting.
INTERFACE_PARAMETERS = frozenset(
    {
        "query",
        "database",
        "default_format",
        "query_id",
        "user",
        "password",
        "quota_key",
        "role",
        "stacktrace",
        "buffer_size",
        "wait_end_of_query",
        "client_protocol_version",
        "session_id",
        "session_timeout",
        "session_check",
        "close_session",
        "compress",
        "decompress",
    }
)
# Statements that answer rows in a format, and take a trailing SETTINGS clause.
ROW_STATEMENTS = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "CHECK"})
SESSION_STATEMENTS = frozenset({"SET", "USE"})
DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "zstd": zstd.decompress,
    "lz4": lz4.frame.decompress,
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
}

# Leading blanks, comments and parentheses, then the statement's first keyword.
_FIRST_KEYWORD = re.compile(r"(?:\s|--[^\n]*(?:\n|$)|/\*.*?\*/|\()*([A-Za-z]+)", re.DOTALL)
NAMED_FORMAT = re.compile(r"\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$", re.IGNORECASE)
# An INSERT into a table (and a column list) whose data follows its FORMAT line; ClickHouse's parser skips blanks and
# one line end before the data.
INSERT_WITH_DATA = re.compile(rb"\s*INSERT\s+INTO\s+([^\s(]+(?:\s*\([^)]*\))?)\s+FORMAT\s+(\w+)[ \t\f]*\r?\n?", re.IGNORECASE)
_SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?')
_FORM_NAME = re.compile(rb'name="([^"]*)"')


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes


def statement_text(request: Request, fields: dict[str, str]) -> bytes:
    """The statement and any INSERT data, as one byte stream; form fields join `fields`."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        fields.update(form_fields(content_type, request.body))
        return fields.get("query", "").encode()
    body = decoded_body(request)
    query = fields.get("query", "")
    return (query + "\n").encode() + body if query else body


def bound_parameters(fields: dict[str, str]) -> dict[str, str]:
    """The `param_<name>` values, by name, in ClickHouse's escaped text form exactly as received."""
    return {name.removeprefix("param_"): value for name, value in fields.items() if name.startswith("param_")}


def statement_settings(fields: dict[str, str]) -> dict[str, str]:
    """Every parameter that is neither the interface's own nor a `param_*` value: a setting of this statement alone."""
    return {name: value for name, value in fields.items() if name not in INTERFACE_PARAMETERS and not name.startswith("param_")}


def refuse_on_get(method: str) -> None:
    """ClickHouse runs GET requests read-only."""
    if method == "GET":
        raise ServerError(
            164, "READONLY", "Cannot execute query in readonly mode. For queries over HTTP, method GET implies readonly"
        )


def decoded_body(request: Request) -> bytes:
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return request.body
    if encoding not in DECODERS:
        raise ServerError(36, "BAD_ARGUMENTS", f"Unknown compression method: {encoding}")
    return DECODERS[encoding](request.body)


def form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The text fields of a multipart form; a file field would be external data (a temporary table)."""
    boundary = _BOUNDARY.search(content_type)
    if boundary is None:
        raise ServerError(36, "BAD_ARGUMENTS", "multipart/form-data without a boundary")
    fields = {}
    for part in body.split(b"--" + boundary.group(1).encode())[1:-1]:
        head, _, value = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if b"filename=" in head:
            raise not_implemented("external data")
        name = _FORM_NAME.search(head)
        if name is not None:
            fields[name.group(1).decode()] = value.removesuffix(b"\r\n").decode()
    return fields


def as_sql(text: bytes) -> str:
    try:
        return text.decode()
    except UnicodeDecodeError:
        raise ServerError(62, "SYNTAX_ERROR", "The statement is not valid UTF-8") from None


def first_keyword(sql: str) -> str:
    found = _FIRST_KEYWORD.match(sql)
    if found is None:
        raise ServerError(62, "SYNTAX_ERROR", "Empty query")
    return found.group(1).upper()


def literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def settings_clause(settings: dict[str, str]) -> str:
    """On a line of its own (the statement may end in a comment); a statement's own SETTINGS still win, as on a server."""
    if not settings:
        return ""
    for name in settings:
        if not _SETTING_NAME.fullmatch(name):
            raise ServerError(115, "UNKNOWN_SETTING", f"Unknown setting '{name}'")
    return "\nSETTINGS " + ", ".join(f"{name} = {literal(value)}" for name, value in settings.items())
