"""Best-effort Supabase Realtime broadcast over its REST endpoint; the Postgres event log stays the source of truth."""

import json
import urllib.error
import urllib.request
from typing import Any, Protocol

from pydantic import BaseModel

from agentmode.observability import logger
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
    """`POST {SUPABASE_URL}/realtime/v1/api/broadcast` with the service-role key, as Supabase documents for servers."""

    def __init__(self, supabase_url: str, service_role_key: str, timeout_seconds: float) -> None:
        self.url = f"{supabase_url.rstrip('/')}/realtime/v1/api/broadcast"
        self.service_role_key = service_role_key
        self.timeout_seconds = timeout_seconds

    def publish(self, messages: list[BroadcastMessage]) -> bool:
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
                "apikey": self.service_role_key,
                "Authorization": f"Bearer {self.service_role_key}",
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


def broadcaster_for(settings: Settings) -> Broadcaster:
    key = settings.supabase_service_role_key.get_secret_value()
    if settings.supabase_url and key:
        return SupabaseBroadcaster(settings.supabase_url, key, settings.realtime_timeout_seconds)
    return LocalBroadcaster()
