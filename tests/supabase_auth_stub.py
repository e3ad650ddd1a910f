"""A loopback stand-in for Supabase Auth's admin invite endpoint (Supabase cannot run here).

Shapes as Supabase Auth (GoTrue) documents and answers them under API version 2024-01-01:
- request: `POST /auth/v1/invite[?redirect_to=<url>]` with headers `apikey: <service role key>` and
  `Authorization: Bearer <service role key>`, body `{"email": ..., "data": {...user metadata}}`;
- 200: the invited user (`id`, `aud`, `role`, `email`, `invited_at`, `confirmation_sent_at`, `app_metadata`,
  `user_metadata` = the data sent, `identities`, `created_at`, `updated_at`, `is_anonymous`);
- errors: the status with `{"code": "<error code>", "message": "..."}` and header `x-supabase-api-version: 2024-01-01`,
  e.g. 422 `email_exists` ("A user with this email address has already been registered"), 429
  `over_email_send_rate_limit` ("email rate limit exceeded").
"""

import json
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.http_stub import send_json, serve

API_VERSION = {"x-supabase-api-version": "2024-01-01"}
ERRORS = {
    "email_exists": (422, "A user with this email address has already been registered"),
    "over_email_send_rate_limit": (429, "email rate limit exceeded"),
    "unexpected_failure": (500, "Unexpected failure, please check server logs for more information"),
}


def invited_user(email: str, data: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    user_id = str(uuid.uuid4())
    return {
        "id": user_id, "aud": "authenticated", "role": "authenticated", "email": email, "phone": "",
        "invited_at": now, "confirmation_sent_at": now, "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": data, "identities": [], "created_at": now, "updated_at": now, "is_anonymous": False,
    }  # fmt: skip


class SupabaseAuthStub:
    """Records invite requests; `fail_with` answers the next ones with one of ERRORS, `delay` holds each answer."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_with: str | None = None
        self.delay = 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                url = urlsplit(self.path)
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                outer.requests.append(
                    {"path": url.path, "query": parse_qs(url.query), "headers": {k.lower(): v for k, v in self.headers.items()},
                     "body": body}
                )  # fmt: skip
                time.sleep(outer.delay)
                if url.path != "/auth/v1/invite":
                    send_json(self, 404, {"code": "not_found", "message": "Not found"}, API_VERSION)
                elif outer.fail_with is not None:
                    status, message = ERRORS[outer.fail_with]
                    send_json(self, status, {"code": outer.fail_with, "message": message}, API_VERSION)
                else:
                    send_json(self, 200, invited_user(body["email"], body.get("data") or {}), API_VERSION)

            def log_message(self, *args: Any) -> None:
                return

        self.server, self.url = serve(Handler)

    @property
    def invited(self) -> list[str]:
        return [request["body"]["email"] for request in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
