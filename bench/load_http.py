"""bench.load's transport: one keep-alive HTTP connection per client, never retried."""

import http.client
import json
import time
from typing import Any
from urllib.parse import urlsplit


class Http:
    """One keep-alive connection per client, as a browser or agent worker would hold; never retries (a retry would
    hide an error, and re-send a write)."""

    def __init__(self, base_url: str, timeout: float) -> None:
        parts = urlsplit(base_url)
        self.host, self.port, self.timeout = parts.hostname or "127.0.0.1", parts.port or 80, timeout
        self.conn: http.client.HTTPConnection | None = None

    def send(
        self, method: str, path: str, token: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes, float]:
        """(status, lower-cased headers, body, latency ms); status 0 on a transport error, whose text is the body."""
        all_headers = {"authorization": f"Bearer {token}", **(headers or {})}
        raw = None
        if body is not None:
            raw = json.dumps(body).encode()
            all_headers["content-type"] = "application/json"
        started = time.perf_counter_ns()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.conn.request(method, path, body=raw, headers=all_headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return 0, {}, f"{type(exc).__name__}: {exc}".encode(), (time.perf_counter_ns() - started) / 1e6
        ms = (time.perf_counter_ns() - started) / 1e6
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data, ms

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
