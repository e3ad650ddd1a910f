"""Redaction for anything a log line may carry: secret-named fields, tokens and keys inside free text."""

import re
from typing import Any

REDACTED = "[REDACTED]"
# A field whose name contains one of these holds a credential, whatever its value looks like.
SECRET_NAME_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "api_key",
    "apikey",
    "private_key",
    "access_key",
    "signature",
    "cookie",
    "credential",
    "jwt",
)
SECRET_PATTERNS = (
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),  # JWTs
    re.compile(r"(?i)\bbearer\s+\S+"),
    re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]+"),  # Stripe keys
    re.compile(r"\bwhsec_[A-Za-z0-9]+"),  # Stripe webhook secrets
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),  # OpenAI-style keys
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),  # user:password@ in connection URLs
)


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(part in lowered for part in SECRET_NAME_PARTS)


def redact_text(text: str) -> str:
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


def redact(value: Any) -> Any:
    """A copy of a JSON-like value with secret-named fields replaced and secrets inside strings masked."""
    if isinstance(value, dict):
        return {key: REDACTED if is_secret_name(str(key)) else redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
