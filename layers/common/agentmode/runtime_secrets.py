"""Secret settings read at run time from Secrets Manager, through the AWS Parameters and Secrets Lambda Extension.

A deployed function's environment names the secret behind each secret setting it uses, `<SETTING>_SECRET_ID`
(template.yaml), never its value. `secret_value(name)` answers a setting's current value:

- its own variable (`DATABASE_URL`), when set and not empty: local runs, tests, `sam local invoke`;
- else, when `<SETTING>_SECRET_ID` names a secret, that secret's SecretString, read from the extension on localhost
  over plain HTTP (urllib: botocore would cost ~190 ms of cold start) and kept SECRETS_CACHE_SECONDS. An older value
  is read again, so a rotated secret is in use in every container within that age. When a read fails, a value read
  at most STALE_GRACE_SECONDS past its age is still served (logged as a warning); with none, the request answers
  503 SERVICE_UNAVAILABLE (service `secrets`) and the log names the setting;
- else the setting's default, which its caller treats as "not configured".

Nothing is read at import, only when a request needs that secret. Values are never logged.
"""

import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from agentmode.errors import AppError, ErrorCode
from agentmode.observability import logger
from agentmode.settings import Settings, get_settings

SecretName = Literal[
    "database_url",
    "supabase_jwt_secret",
    "supabase_service_role_key",
    "openai_api_key",
    "stripe_webhook_secret",
    "stripe_secret_key",
    "clickhouse_password",
    "traces_cursor_secret",
    "runner_token_secret",
]

SECRET_ID_SUFFIX = "_SECRET_ID"  # noqa: S105 - a variable name's suffix
EXTENSION_PORT_VARIABLE = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
EXTENSION_DEFAULT_PORT = "2773"
# The extension refuses requests without the function's session token (its guard against SSRF).
TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"  # noqa: S105 - a header name
# template.yaml's SECRETS_MANAGER_TIMEOUT_MILLIS: the functions' Timeouts count this much per secret.
FETCH_TIMEOUT_SECONDS = 1.0
# How long past its cache age a value bridges an extension or Secrets Manager that fails.
STALE_GRACE_SECONDS = 900.0
# While serving a stale value, a failed read is retried this often, not on every request (each may wait the timeout).
RETRY_AFTER_FAILURE_SECONDS = 10.0
SECRETS_RETRY_AFTER_MS = 1000

# No proxy: an HTTP(S)_PROXY in the environment must not carry the session token, or a secret, off the host.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class SecretReadError(Exception):
    """A read that gave no value; `reason` is safe to log (no value, no response body)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_from_extension(secret_id: str) -> str:
    """GetSecretValue through the extension: `GET /secretsmanager/get?secretId=…`, its JSON answer's SecretString."""
    port = os.environ.get(EXTENSION_PORT_VARIABLE) or EXTENSION_DEFAULT_PORT
    url = f"http://localhost:{port}/secretsmanager/get?secretId={urllib.parse.quote(secret_id, safe='')}"
    request = urllib.request.Request(url, headers={TOKEN_HEADER: os.environ.get("AWS_SESSION_TOKEN", "")})
    try:
        with _opener.open(request, timeout=FETCH_TIMEOUT_SECONDS) as response:
            document = json.load(response)
    except urllib.error.HTTPError as exc:
        raise SecretReadError(f"extension answered {exc.code}") from None
    except (urllib.error.URLError, OSError):
        raise SecretReadError("extension unreachable") from None
    except ValueError:
        raise SecretReadError("extension answer is not JSON") from None
    value = document.get("SecretString") if isinstance(document, dict) else None
    if not isinstance(value, str):
        raise SecretReadError("secret has no SecretString")
    return value


@dataclass
class _Cached:
    value: str
    read_at: float
    read_again_at: float


class SecretCache:
    """The container's secret values, each kept for its cache age and read again after it."""

    def __init__(self, read: Callable[[str], str] = read_from_extension, clock: Callable[[], float] = time.monotonic) -> None:
        self.read = read
        self.clock = clock
        self._values: dict[str, _Cached] = {}
        # One read at a time: concurrent requests of the local runner wait for it instead of reading the same secret.
        self._lock = threading.Lock()

    def get(self, setting: str, secret_id: str, max_age_seconds: float) -> str:
        with self._lock:
            now = self.clock()
            cached = self._values.get(secret_id)
            if cached is not None and now < cached.read_again_at:
                return cached.value
            try:
                value = self.read(secret_id)
            except SecretReadError as exc:
                return self._stale_or_unavailable(setting, secret_id, cached, now, max_age_seconds, exc.reason)
            self._values[secret_id] = _Cached(value, now, now + max_age_seconds)
            return value

    def _stale_or_unavailable(
        self, setting: str, secret_id: str, cached: _Cached | None, now: float, max_age_seconds: float, reason: str
    ) -> str:
        served_until = cached.read_at + max_age_seconds + STALE_GRACE_SECONDS if cached is not None else now
        if cached is not None and now < served_until:
            logger.warning(
                "secret read failed: serving the cached value",
                extra={"setting": setting, "secret_id": secret_id, "reason": reason, "age_seconds": round(now - cached.read_at)},
            )
            cached.read_again_at = min(now + RETRY_AFTER_FAILURE_SECONDS, served_until)
            return cached.value
        logger.error("secret unavailable", extra={"setting": setting, "secret_id": secret_id, "reason": reason})
        raise AppError(
            ErrorCode.SERVICE_UNAVAILABLE,
            details={"service": "secrets", "reason": reason, "retry_after_ms": SECRETS_RETRY_AFTER_MS},
        )

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


_cache = SecretCache()


def _own_value(name: SecretName, settings: Settings) -> str:
    """The value the setting's own variable gives ('' when it is unset or empty; a default does not count)."""
    value: str = getattr(settings, name).get_secret_value() if name in settings.model_fields_set else ""
    return value


def _secret_id(name: SecretName) -> str:
    return os.environ.get(f"{name.upper()}{SECRET_ID_SUFFIX}", "")


def secret_value(name: SecretName, settings: Settings | None = None) -> str:
    """The setting's current value: its variable, else its secret (cached, read again after its age), else default."""
    settings = settings or get_settings()
    secret_id = _secret_id(name)
    if _own_value(name, settings) or not secret_id:
        value: str = getattr(settings, name).get_secret_value()
        return value
    return _cache.get(name.upper(), secret_id, settings.secrets_cache_seconds)


def is_configured(name: SecretName, settings: Settings | None = None) -> bool:
    """Whether the deployment gives the setting a value (its variable, or a secret), without reading the secret."""
    return bool(_own_value(name, settings or get_settings()) or _secret_id(name))


def forget_secrets() -> None:
    """A fresh container's view: every secret read again on next use (tests)."""
    _cache.clear()
