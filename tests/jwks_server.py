"""A Supabase project's /auth/v1/.well-known/jwks.json on loopback, with keys a test can rotate."""

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

JWKS_PATH = "/auth/v1/.well-known/jwks.json"


class JwksServer:
    """`url` plays SUPABASE_URL. Each server has a path prefix of its own, so the layer's per-URL JWKS cache never
    mixes two tests' keys."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        # Served instead of {"keys": keys} when set, for a document of the wrong shape.
        self.document: Any = None
        # Seconds to wait before answering, to play a JWKS endpoint that hangs.
        self.delay = 0.0
        self.fetches = 0
        prefix = f"/{uuid.uuid4().hex}"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                time.sleep(outer.delay)
                body = json.dumps({"keys": outer.keys} if outer.document is None else outer.document).encode()
                self.send_response(200 if self.path == f"{prefix}{JWKS_PATH}" else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{prefix}"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}{JWKS_PATH}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
