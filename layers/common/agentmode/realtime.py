"""Best-effort Supabase Realtime broadcast over its REST endpoint; the Postgres event log stays the source of truth."""

import json
import urllib.error
import urllib.request
from typing import Any, Protocol

from pydantic import BaseModel

from agentmode.observability import logger
from agentmode.runtime_secrets import is_configured, secret_value
from agentmode.settings import Settings


class BroadcastMessage(BaseModel):
    topic: str
    event: str
    payload: dict[str, Any]


class Broadcaster(Protocol):
    def publish(self, messages: list[BroadcastMessage]) -> bool:
        """Sends the messages in order; False when they may not have been delivered."""
        ...


class SupabaseBroadcaster:
    """`POST {SUPABASE_URL}/realtime/v1/api/broadcast` with the service-role key, as Supabase documents for servers.

    The key is read on each publish (runtime_secrets caches it), so a rotated key is used once its cache age passes;
    a key that cannot be read is an AppError, which the outbox turns into events left pending.
    """

    def __init__(self, settings: Settings) -> None:
        self.url = f"{settings.supabase_url.rstrip('/')}/realtime/v1/api/broadcast"
        self.settings = settings
        self.timeout_seconds = settings.realtime_timeout_seconds

    def publish(self, messages: list[BroadcastMessage]) -> bool:
        service_role_key = secret_value("supabase_service_role_key", self.settings)
        body = json.dumps(
            {"messages": [{**m.model_dump(), "private": False} for m in messages]},
            separators=(",", ":"),
            default=str,
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - https URL from settings
            self.url,
            data=body,
            method="POST",
            headers={
                "apikey": service_role_key,
                "Authorization": f"Bearer {service_role_key}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310 - https URL from settings
                return bool(200 <= response.status < 300)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            logger.warning("realtime broadcast failed", extra={"error_type": type(exc).__name__, "messages": len(messages)})
            return False


class LocalBroadcaster:
    """No Realtime server runs locally: clients follow the log through GET /agent/events (or the runner's SSE stream)."""

    def publish(self, messages: list[BroadcastMessage]) -> bool:
        logger.debug("local broadcast", extra={"topics": sorted({m.topic for m in messages}), "messages": len(messages)})
        return True


class UnconfiguredBroadcaster:
    """A deployed function missing a Realtime setting: its events stay pending (clients still read them from
    GET /agent/events) and each attempt logs the setting, instead of marking events sent that never were."""

    def __init__(self, missing_setting: str) -> None:
        self.missing_setting = missing_setting

    def publish(self, messages: list[BroadcastMessage]) -> bool:
        logger.error(
            f"{self.missing_setting} is not set: realtime broadcast skipped",
            extra={"setting": self.missing_setting, "messages": len(messages)},
        )
        return False


def broadcaster_for(settings: Settings) -> Broadcaster:
    if not settings.supabase_url:
        missing = "SUPABASE_URL"
    elif not is_configured("supabase_service_role_key", settings):
        missing = "SUPABASE_SERVICE_ROLE_KEY"
    else:
        return SupabaseBroadcaster(settings)
    return UnconfiguredBroadcaster(missing) if settings.is_deployed() else LocalBroadcaster()
