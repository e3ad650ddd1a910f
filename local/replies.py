"""What the runner sends back: a function's result as API Gateway turns it into a response, or, for what no function
sees (no route, a malformed request), the runner's own refusal in the one error format the functions use."""

import base64
import uuid
from dataclasses import dataclass, field
from typing import Any

from agentmode.errors import ErrorCode, error_body

# API Gateway HTTP API adds this header to every response: its request id, the one the error body's request_id quotes.
REQUEST_ID_HEADER = "apigw-requestid"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: list[str] = field(default_factory=list)


def from_lambda_result(result: dict[str, Any], request_id: str) -> Reply:
    """Payload format 2.0's response: statusCode, headers, cookies, and a body that may be base64."""
    payload = result.get("body") or ""
    body = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
    headers = {name.lower(): str(value) for name, value in (result.get("headers") or {}).items()}
    return Reply(
        status=int(result.get("statusCode", 200)),
        headers=headers | {REQUEST_ID_HEADER: request_id},
        body=body,
        cookies=[str(cookie) for cookie in result.get("cookies") or []],
    )


def error_reply(
    code: ErrorCode,
    message: str | None = None,
    *,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    request_id = request_id or str(uuid.uuid4())
    body = error_body(code, message or code.default_message, details or {}, request_id)
    return Reply(
        status=code.http_status,
        headers={"content-type": "application/json", REQUEST_ID_HEADER: request_id} | (headers or {}),
        body=body.model_dump_json().encode(),
    )
