"""How the ClickHouse HTTP stand-in (tests.clickhouse_http) answers, as ClickHouse 26 does: rows in their format with
its content type, compressed as ClickHouse picks from Accept-Encoding, the X-ClickHouse-* headers, and errors as
`Code: <n>. DB::Exception: …` with X-ClickHouse-Exception-Code and the HTTP status ClickHouse gives that code."""

import gzip
import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import lz4.frame  # type: ignore[import-untyped]
from backports import zstd

from agentmode.clickhouse import RawAnswer

DISPLAY_NAME = "chdb-http-stand-in"
# ClickHouse's preference among the encodings a client accepts (chooseHTTPCompressionMethod: zstd, br, lz4, snappy,
# gzip, deflate, ...), limited to those made here; clickhouse-connect offers lz4, zstd, gzip and deflate.
ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "zstd": zstd.compress,
    "lz4": lz4.frame.compress,
    "gzip": gzip.compress,
    "deflate": zlib.compress,
}
# exceptionCodeToHTTPStatus in ClickHouse's src/Server/HTTP, by the error's name; any other error is a 500.
STATUS_BY_ERROR = {
    "REQUIRED_PASSWORD": 401,
    **dict.fromkeys(("UNKNOWN_USER", "WRONG_PASSWORD", "AUTHENTICATION_FAILED", "SET_NON_GRANTED_ROLE", "ACCESS_DENIED"), 403),
    **dict.fromkeys(
        (
            "BAD_ARGUMENTS",
            "CANNOT_COMPILE_REGEXP",
            "CANNOT_PARSE_TEXT",
            "CANNOT_PARSE_ESCAPE_SEQUENCE",
            "CANNOT_PARSE_QUOTED_STRING",
            "CANNOT_PARSE_DATE",
            "CANNOT_PARSE_DATETIME",
            "CANNOT_PARSE_NUMBER",
            "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING",
            "CANNOT_PARSE_IPV4",
            "CANNOT_PARSE_IPV6",
            "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
            "CANNOT_PARSE_UUID",
            "DUPLICATE_COLUMN",
            "ILLEGAL_COLUMN",
            "UNKNOWN_ELEMENT_IN_AST",
            "UNKNOWN_TYPE_OF_AST_NODE",
            "THERE_IS_NO_COLUMN",
            "TOO_DEEP_AST",
            "TOO_BIG_AST",
            "UNEXPECTED_AST_STRUCTURE",
            "SYNTAX_ERROR",
            "INCORRECT_DATA",
            "TYPE_MISMATCH",
            "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
        ),
        400,
    ),
    **dict.fromkeys(
        (
            "UNKNOWN_TABLE",
            "UNKNOWN_FUNCTION",
            "UNKNOWN_IDENTIFIER",
            "UNKNOWN_TYPE",
            "UNKNOWN_STORAGE",
            "UNKNOWN_DATABASE",
            "UNKNOWN_SETTING",
            "UNKNOWN_DIRECTION_OF_SORTING",
            "UNKNOWN_AGGREGATE_FUNCTION",
            "UNKNOWN_FORMAT",
            "UNKNOWN_DATABASE_ENGINE",
            "UNKNOWN_TYPE_OF_QUERY",
            "UNKNOWN_ROLE",
        ),
        404,
    ),
    "QUERY_IS_TOO_LARGE": 413,
    "NOT_IMPLEMENTED": 501,
    **dict.fromkeys(("SOCKET_TIMEOUT", "CANNOT_OPEN_FILE", "CANNOT_SCHEDULE_TASK"), 503),
    "HTTP_LENGTH_REQUIRED": 411,
    "TIMEOUT_EXCEEDED": 408,
    "UNSUPPORTED_MEDIA_TYPE": 415,
}

_ENGINE_ERROR = re.compile(r"Code: (\d+)\. DB::Exception: (.*) \(([A-Z0-9_]+)\)\s*$", re.DOTALL)


class ServerError(Exception):
    """An exception as ClickHouse reports it: its code, its name and its message."""

    def __init__(self, code: int, name: str, message: str) -> None:
        super().__init__(message)
        self.code, self.name, self.message = code, name, message

    @classmethod
    def from_engine(cls, error: RuntimeError) -> "ServerError":
        found = _ENGINE_ERROR.search(str(error))
        if found is None:
            return cls(1001, "STD_EXCEPTION", str(error))
        return cls(int(found.group(1)), found.group(3), found.group(2))


def not_implemented(what: str) -> ServerError:
    return ServerError(48, "NOT_IMPLEMENTED", f"The ClickHouse HTTP stand-in does not support {what}")


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Replies:
    """The replies of one server: its version (in error texts), its time zone (a header), and whether it compresses
    answers when a request does not say (`enable_http_compression`)."""

    version: str
    timezone: str
    compression_by_default: bool

    def encoding(self, request_headers: dict[str, str], fields: dict[str, str]) -> str | None:
        enabled = fields.get("enable_http_compression")
        if not (self.compression_by_default if enabled is None else enabled in ("1", "true")):
            return None
        accepted = request_headers.get("accept-encoding", "")
        return next((name for name in ENCODERS if name in accepted), None)

    def _headers(self, query_id: str) -> dict[str, str]:
        return {
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": self.timezone,
            "X-ClickHouse-Server-Display-Name": DISPLAY_NAME,
        }

    def rows(self, answer: RawAnswer, output_format: str | None, query_id: str, encoding: str | None) -> Reply:
        summary = {
            "read_rows": answer.read_rows,
            "read_bytes": answer.read_bytes,
            "written_rows": answer.written_rows,
            "written_bytes": answer.written_bytes,
            "elapsed_ns": answer.elapsed_ns,
        }
        # ClickHouse writes the summary's figures as strings.
        headers = {**self._headers(query_id), "X-ClickHouse-Summary": json.dumps({k: str(v) for k, v in summary.items()})}
        headers["Content-Type"] = content_type(output_format)
        if output_format is not None:
            headers["X-ClickHouse-Format"] = output_format
        body = answer.data
        if encoding is not None:
            body = ENCODERS[encoding](body)
            headers["Content-Encoding"] = encoding
        return Reply(200, body, headers)

    def error(self, error: ServerError, query_id: str) -> Reply:
        text = f"Code: {error.code}. DB::Exception: {error.message} ({error.name}) (version {self.version} (official build))\n"
        headers = {
            **self._headers(query_id),
            "Content-Type": "text/plain; charset=UTF-8",
            "X-ClickHouse-Exception-Code": str(error.code),
        }
        return Reply(STATUS_BY_ERROR.get(error.name, 500), text.encode(), headers)


def content_type(output_format: str | None) -> str:
    if output_format is None or output_format.startswith(("TabSeparated", "TSV")):
        return "text/tab-separated-values; charset=UTF-8"
    if output_format.startswith("JSON"):
        return "application/json; charset=UTF-8"
    if output_format.startswith("CSV"):
        return "text/csv; charset=UTF-8; header=absent"
    return "application/octet-stream"
