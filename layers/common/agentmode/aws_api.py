"""The two AWS calls the functions make (SQS SendMessage, Bedrock InvokeModel) as Signature V4-signed JSON POSTs over a
kept-alive connection, with the standard library only.

Why not botocore: creating its client loads the service model and endpoint rules, and with its import that measured
about 200 ms of agent_start's cold start (bench/functions.py), for one POST per request. What a client must get right is
done here and checked in tests/unit/test_aws_api.py: the signature equals botocore's SigV4 signer's for the same request,
the endpoint comes from the same settings botocore reads (AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, AWS_REGION),
the credentials from the Lambda runtime's environment (re-read each call), bounded timeouts and attempts, and AWS's JSON
error shapes. tests/faults drive it against loopback servers failing in each way; moto's SQS server takes its sends.
"""

import hashlib
import hmac
import http.client
import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from agentmode.kept_connection import ConnectFailed, KeptConnection

# Retried, as botocore's standard mode does: the request did not take effect, or may be repeated without harm (SQS FIFO
# deduplicates a resend; InvokeModel changes nothing). Timeout and ConnectionFailed are the transport's own.
RETRYABLE_CODES = frozenset(
    {"InternalError", "InternalFailure", "ServiceUnavailable", "RequestThrottled", "ThrottlingException",
     "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "Timeout", "ConnectionFailed"}
)  # fmt: skip
RETRY_BACKOFF_SECONDS = 0.05


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    session_token: str | None = None

    @classmethod
    def from_environment(cls) -> "Credentials":
        """What Lambda gives the execution role; missing keys fail the call as unavailable, never with a traceback."""
        try:
            return cls(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"], os.environ.get("AWS_SESSION_TOKEN"))
        except KeyError as missing:
            raise AwsCallFailed("MissingCredentials", None) from missing


class AwsCallFailed(Exception):
    """The call did not succeed: `code` is AWS's error code (or the transport's: Timeout, ConnectionFailed...)."""

    def __init__(self, code: str, status: int | None) -> None:
        super().__init__(code)
        self.code = code
        self.status = status

    @property
    def timed_out(self) -> bool:
        return self.code == "Timeout"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def canonical_path(path: str) -> str:
    """SigV4 for services other than S3 encodes the (already encoded) path once more."""
    return quote(path, safe="/~")


def sign(
    method: str, url: str, headers: dict[str, str], body: bytes, *, service: str, region: str, credentials: Credentials,
    now: datetime,
) -> dict[str, str]:  # fmt: skip
    """`headers` with X-Amz-Date, X-Amz-Security-Token (temporary credentials) and Authorization added. Every header
    given is signed; the URL has no query string (neither call needs one)."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    signed = {**headers, "host": urlsplit(url).netloc, "x-amz-date": amz_date}
    if credentials.session_token:
        signed["x-amz-security-token"] = credentials.session_token
    lowered = {name.lower(): " ".join(value.split()) for name, value in signed.items()}
    names = sorted(lowered)
    canonical = "\n".join(
        [method, canonical_path(urlsplit(url).path or "/"), "", *(f"{name}:{lowered[name]}" for name in names), "",
         ";".join(names), hashlib.sha256(body).hexdigest()]
    )  # fmt: skip
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{credentials.secret_key}".encode(), amz_date[:8]), region), service), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return {**signed, "authorization": authorization}


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def endpoint_url(service_id: str, host_prefix: str) -> str:
    """botocore's order: AWS_ENDPOINT_URL_<SERVICE ID> (e.g. _SQS, _BEDROCK_RUNTIME), AWS_ENDPOINT_URL, the public one."""
    configured = os.environ.get(f"AWS_ENDPOINT_URL_{service_id}") or os.environ.get("AWS_ENDPOINT_URL")
    if configured:
        return configured.rstrip("/")
    name = region()
    return f"https://{host_prefix}.{name}.{'amazonaws.com.cn' if name.startswith('cn-') else 'amazonaws.com'}"


def error_code(error_type_header: str | None, body: bytes) -> str:
    """AWS JSON protocols name the error in `__type` ("com.amazonaws.sqs#QueueDoesNotExist") or x-amzn-ErrorType
    ("ThrottlingException:http://..."); anything else is reported by status alone."""
    found = error_type_header or ""
    if not found:
        try:
            parsed = json.loads(body)
            found = str(parsed.get("__type") or parsed.get("code") or "") if isinstance(parsed, dict) else ""
        except ValueError:
            found = ""
    return found.split(":")[0].rsplit("#", 1)[-1] or "UnknownError"


class AwsEndpoint:
    """One service's endpoint; each thread keeps its own connection across invocations, reopened when the peer closed
    it. A call makes at most `attempts` tries, each bounded by the connect and read timeouts."""

    def __init__(
        self, *, service_id: str, host_prefix: str, signing_name: str, connect_timeout: float, read_timeout: float,
        attempts: int,
    ) -> None:  # fmt: skip
        self.service_id = service_id
        self.host_prefix = host_prefix
        self.signing_name = signing_name
        self.attempts = attempts
        self._connection = KeptConnection(connect_timeout, read_timeout)

    def post_json(self, path: str, payload: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        """POSTs `payload` as JSON and returns the JSON answer; raises AwsCallFailed once the attempts are spent."""
        base = endpoint_url(self.service_id, self.host_prefix)
        body = json.dumps(payload).encode()
        for attempt in range(1, self.attempts + 1):
            try:
                return self._post_once(base, path, body, headers)
            except AwsCallFailed as failed:
                if attempt == self.attempts or failed.code not in RETRYABLE_CODES:
                    raise
            time.sleep(RETRY_BACKOFF_SECONDS)
        raise ValueError(f"attempts must be at least 1, not {self.attempts}")

    def _post_once(self, base: str, path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        signed = sign(
            "POST", base + path, headers, body, service=self.signing_name, region=region(),
            credentials=Credentials.from_environment(), now=datetime.now(UTC),
        )  # fmt: skip
        try:
            status, response_headers, answer = self._connection.exchange(base, "POST", path, body, signed)
        except ConnectFailed as failed:
            raise AwsCallFailed("Timeout" if failed.timed_out else "ConnectionFailed", None) from None
        except TimeoutError:
            raise AwsCallFailed("Timeout", None) from None
        except (OSError, http.client.HTTPException):
            raise AwsCallFailed("ConnectionFailed", None) from None
        if status >= 400:
            raise AwsCallFailed(error_code(response_headers.get("x-amzn-ErrorType"), answer), status)
        try:
            parsed = json.loads(answer or b"{}")
        except ValueError:
            raise AwsCallFailed("MalformedResponse", status) from None
        if not isinstance(parsed, dict):
            raise AwsCallFailed("MalformedResponse", status)
        return parsed
