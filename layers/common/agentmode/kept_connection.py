"""One HTTP(S) connection per thread, kept across invocations: the transport of the layer's own clients of AWS
(agentmode.aws_api) and of ClickHouse (agentmode.clickhouse), with the standard library only.

A warm container's next request reuses the connection (no TCP or TLS handshake). A connection the peer closed while
the container sat idle shows on the next request, before any answer: it is reopened once, without counting as a
failed attempt. Any other failure drops the connection, so the next exchange starts on a clean one, and is the
caller's to classify: ConnectFailed when no connection could be opened, else the OSError (TimeoutError included) or
http.client.HTTPException of the exchange.
"""

import http.client
import ssl
import threading
from urllib.parse import urlsplit

_CLOSED_BY_PEER = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)

Exchange = tuple[int, http.client.HTTPMessage, bytes]


class ConnectFailed(Exception):
    """No connection could be opened: refused, unreachable, or no handshake within the connect timeout."""

    def __init__(self, timed_out: bool) -> None:
        super().__init__("connect timed out" if timed_out else "connect failed")
        self.timed_out = timed_out


_tls_context: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    """One verifying context per container: loading the CA bundle costs milliseconds."""
    global _tls_context
    if _tls_context is None:
        _tls_context = ssl.create_default_context()
    return _tls_context


class KeptConnection:
    """The connection to one origin (scheme://host:port) per thread; each exchange is bounded by the connect timeout,
    then the read timeout for every wait on the answer."""

    def __init__(self, connect_timeout: float, read_timeout: float) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._local = threading.local()

    def exchange(self, base: str, method: str, path: str, body: bytes, headers: dict[str, str]) -> Exchange:
        """Sends one request to `base` + `path` and reads the whole answer: (status, headers, body)."""
        try:
            response = self._response(base, method, path, body, headers)
            answer = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.will_close:
            self.close()
        return response.status, response.headers, answer

    def _response(self, base: str, method: str, path: str, body: bytes, headers: dict[str, str]) -> http.client.HTTPResponse:
        connection, reused = self._connection(base)
        try:
            connection.request(method, path, body=body, headers=headers)
            return connection.getresponse()
        except _CLOSED_BY_PEER:
            if not reused:
                raise
            self.close()
            connection, _ = self._connection(base)
            connection.request(method, path, body=body, headers=headers)
            return connection.getresponse()

    def close(self) -> None:
        """Drops the thread's connection."""
        kept: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if kept is not None:
            kept.close()
        self._local.connection = None

    def _connection(self, base: str) -> tuple[http.client.HTTPConnection, bool]:
        kept: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if kept is not None and getattr(self._local, "base", None) == base:
            return kept, True
        self.close()
        parts = urlsplit(base)
        host = parts.hostname or ""
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(host, parts.port, timeout=self.connect_timeout, context=_tls())
        else:
            connection = http.client.HTTPConnection(host, parts.port, timeout=self.connect_timeout)
        try:
            connection.connect()
        except TimeoutError:
            raise ConnectFailed(timed_out=True) from None
        except OSError:
            raise ConnectFailed(timed_out=False) from None
        if connection.sock is not None:
            connection.sock.settimeout(self.read_timeout)
        self._local.connection, self._local.base = connection, base
        return connection, False
