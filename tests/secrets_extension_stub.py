"""The AWS Parameters and Secrets Lambda Extension's Secrets Manager route on loopback, with secrets a test can rotate.

It answers as the extension documents it: `GET /secretsmanager/get?secretId=<name or ARN>` carrying the header
`X-Aws-Parameters-Secrets-Token` with the function's AWS_SESSION_TOKEN. A known secret is 200 with the JSON of
GetSecretValue (ARN, Name, VersionId, SecretString, VersionStages, CreatedDate); a missing or wrong token is 401;
a secret Secrets Manager does not know is 400 with its error (ResourceNotFoundException); a request without
`secretId` is 400.
"""

import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.http_stub import send_json

SECRETS_PATH = "/secretsmanager/get"
TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"
ARN_PREFIX = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"


class SecretsExtensionStub:
    """`environment` is what a function's container would see: the extension's port and the session token."""

    def __init__(self, session_token: str = "stub-session-token") -> None:  # noqa: S107 - a test token
        self.session_token = session_token
        self.secrets: dict[str, dict[str, Any]] = {}
        # Every request as it arrived: path, its query parameters, and its headers (lower-cased names).
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {name: values[0] for name, values in parse_qs(url.query).items()}
                headers = {name.lower(): value for name, value in self.headers.items()}
                outer.requests.append({"path": url.path, "query": query, "headers": headers})
                if self.headers.get(TOKEN_HEADER) != outer.session_token:
                    self._send(401, {"message": "not authorized"})
                elif url.path != SECRETS_PATH or not query.get("secretId"):
                    self._send(400, {"__type": "BadRequestException", "message": "secretId is required"})
                elif query["secretId"] not in outer.secrets:
                    self._send(
                        400,
                        {"__type": "ResourceNotFoundException", "message": "Secrets Manager can't find the specified secret."},
                    )
                else:
                    self._send(200, outer.secrets[query["secretId"]])

            def _send(self, status: int, body: dict[str, Any]) -> None:
                send_json(self, status, body)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]

    @property
    def environment(self) -> dict[str, str]:
        return {"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(self.port), "AWS_SESSION_TOKEN": self.session_token}

    def put(self, name: str, value: str) -> None:
        """Creates the secret or rotates it (PutSecretValue: a new AWSCURRENT version)."""
        arn = self.secrets[name]["ARN"] if name in self.secrets else f"{ARN_PREFIX}{name}-{uuid.uuid4().hex[:6]}"
        self.secrets[name] = {
            "ARN": arn,
            "Name": name,
            "VersionId": str(uuid.uuid4()),
            "SecretString": value,
            "VersionStages": ["AWSCURRENT"],
            "CreatedDate": time.time(),
        }

    def reads_of(self, name: str) -> int:
        return sum(1 for request in self.requests if request["query"].get("secretId") == name)

    def close(self) -> None:
        """Stops answering: the port refuses connections, as when the extension is down."""
        self.server.shutdown()
        self.server.server_close()
