"""Seed 000's operator switches: DEBUG request logging (redacted) and PROFILING_ENABLED (pyinstrument).

Both are off by default and cost nothing then: pyinstrument is imported only when profiling is on.
"""

import base64
import binascii
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agentmode.observability import logger
from agentmode.redaction import redact, redact_text
from agentmode.settings import Settings

LOGGED_HEADERS = ("content-type", "content-length", "user-agent", "idempotency-key", "x-forwarded-for")
BODY_METHODS = ("POST", "PUT", "PATCH")


def log_request(event: dict[str, Any], settings: Settings) -> None:
    """One log line with the request as received, secrets masked, the body cut at DEBUG_BODY_MAX_BYTES."""
    http = (event.get("requestContext") or {}).get("http") or {}
    method = str(http.get("method", ""))
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    entry: dict[str, Any] = {
        "method": method,
        "path": event.get("rawPath", ""),
        "query": redact_text(str(event.get("rawQueryString", ""))),
        "headers": {name: headers[name] for name in LOGGED_HEADERS if name in headers},
    }
    if method in BODY_METHODS:
        entry["body"] = _body(event, settings.debug_body_max_bytes)
    logger.info("request received", extra={"request": entry})


def _body(event: dict[str, Any], limit: int) -> Any:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(raw).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            return "[undecodable base64 body]"
    if len(raw) > limit:
        return redact_text(raw[:limit]) + f"... [{len(raw) - limit} more bytes]"
    try:
        return redact(json.loads(raw))
    except ValueError:
        return redact_text(raw)


@contextmanager
def profiled(event: dict[str, Any], function_name: str, settings: Settings) -> Iterator[None]:
    """Profiles the invocation when PROFILING_ENABLED; the profile goes to PROFILE_OUTPUT_DIR (a folder, or s3://...)."""
    if not settings.profiling_enabled:
        yield
        return
    from pyinstrument import Profiler

    profiler = Profiler()
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        _save(profiler, _profile_name(event, function_name, settings.profiling_format), settings)


def _profile_name(event: dict[str, Any], function_name: str, profile_format: str) -> str:
    http = (event.get("requestContext") or {}).get("http") or {}
    path = re.sub(r"[^A-Za-z0-9]+", "-", str(event.get("rawPath", ""))).strip("-") or "root"
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"{time.time() % 1:.6f}"[1:]
    suffix = "speedscope.json" if profile_format == "speedscope" else "html"
    return f"{function_name}-{http.get('method', 'X')}-{path[:80]}-{stamp}.{suffix}"


def _render(profiler: Any, profile_format: str) -> str:
    if profile_format == "speedscope":
        from pyinstrument.renderers import SpeedscopeRenderer

        return str(profiler.output(SpeedscopeRenderer()))
    return str(profiler.output_html())


def _save(profiler: Any, name: str, settings: Settings) -> None:
    """Never fails the request: a profile that cannot be written is a warning."""
    target = settings.profile_output_dir
    try:
        content = _render(profiler, settings.profiling_format)
        if target.startswith("s3://"):
            location = _upload(target, name, content)
        else:
            folder = Path(target)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(content)
            location = str(folder / name)
    except Exception as exc:  # noqa: BLE001 - a diagnostic must never break the request it observes
        logger.warning("profile not written", extra={"error_type": type(exc).__name__})
        return
    logger.info("profile written", extra={"profile": location})


def _upload(target: str, name: str, content: str) -> str:
    """boto3 is part of the Lambda Python runtime; it is imported only here, when profiles go to S3."""
    import boto3

    bucket, _, prefix = target.removeprefix("s3://").partition("/")
    key = f"{prefix.rstrip('/')}/{name}" if prefix else name
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=content.encode(), ContentType="text/html")
    return f"s3://{bucket}/{key}"
