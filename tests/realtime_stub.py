"""A loopback stand-in for Supabase Realtime's REST broadcast endpoint (it cannot run here).

It records what the functions send and answers as Supabase documents: `POST /realtime/v1/api/broadcast` with
`apikey` and `Authorization: Bearer <service role key>` headers and a body `{"messages": [{"topic", "event",
"payload", "private"}]}`, answered with 202 Accepted and an empty body.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class RealtimeStub:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_with: int | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                outer.requests.append(
                    {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                )
                status = outer.fail_with or 202
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [m for request in self.requests for m in request["body"]["messages"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
