"""Invite e-mails through Supabase Auth's admin API: supabase-py's `auth.admin.invite_user_by_email`.

POST {SUPABASE_URL}/auth/v1/invite with the service role key sends the invite link to an unregistered address (and
creates the invited, unconfirmed user). A registered address is refused with 422 `email_exists`: that user sees the
invite in GET /opsboard/orgs/invites instead. The `supabase` package is imported here only, on the invite path: it
costs about half a second of import that no other route should pay.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Literal

from agentmode.errors import AppError, ErrorCode
from agentmode.observability import logger
from agentmode.runtime_secrets import is_configured, secret_value
from agentmode.settings import Settings

if TYPE_CHECKING:
    from supabase import Client

Outcome = Literal["sent", "registered", "skipped"]
REGISTERED_CODES = frozenset({"email_exists", "user_already_exists"})

_lock = threading.Lock()
# One client per container and service key: a rotated key gets a new client once runtime_secrets reads it.
_clients: dict[tuple[str, str], Client] = {}


def _not_sent(reason: str) -> AppError:
    return AppError(ErrorCode.INVITE_NOT_SENT, details={"service": "supabase_auth", "reason": reason})


def _reason(status: int) -> str:
    if status == 429:
        return "rate limited"
    return "unavailable" if status >= 500 else "refused"


def _client(settings: Settings, key: str) -> Client:
    import httpx

    from supabase import ClientOptions, create_client

    with _lock:
        cache_key = (settings.supabase_url, key)
        if cache_key not in _clients:
            _clients.clear()
            http = httpx.Client(timeout=settings.supabase_auth_timeout_seconds)
            options = ClientOptions(auto_refresh_token=False, persist_session=False, httpx_client=http)
            _clients[cache_key] = create_client(settings.supabase_url, key, options=options)
        return _clients[cache_key]


def forget_clients() -> None:
    with _lock:
        _clients.clear()


def send_invite(email: str, *, org_id: str, org_name: str, role: str, settings: Settings) -> Outcome:
    """Sends the invite mail; 'registered' when Supabase Auth already has the address. Any failure raises
    INVITE_NOT_SENT (its reason, never Supabase's text), so that the caller's transaction saves no invite."""
    if not settings.supabase_url or not is_configured("supabase_service_role_key", settings):
        if settings.is_deployed():
            logger.error("invite mail not configured", extra={"setting": "SUPABASE_URL/SUPABASE_SERVICE_ROLE_KEY"})
            raise _not_sent("not configured")
        # The local stack has no Supabase Auth: the invitee sees the invite in the app once registered.
        logger.info("invite mail skipped: no Supabase Auth on the local stack", extra={"org_id": org_id})
        return "skipped"
    from supabase_auth.errors import AuthApiError

    options: dict[str, object] = {"data": {"invited_to_org": org_id, "org_name": org_name, "org_role": role}}
    if settings.app_url:
        options["redirect_to"] = f"{settings.app_url.rstrip('/')}/auth/callback"
    try:
        _client(settings, secret_value("supabase_service_role_key", settings)).auth.admin.invite_user_by_email(
            email,
            options,  # type: ignore[arg-type]
        )
    except AuthApiError as exc:
        if exc.code in REGISTERED_CODES:
            return "registered"
        logger.warning("invite mail refused", extra={"status": exc.status, "auth_error_code": exc.code})
        raise _not_sent(_reason(exc.status)) from None
    except Exception as exc:  # noqa: BLE001 - a network error, a timeout or an unreadable answer alike: not sent
        logger.warning("invite mail failed", extra={"error_type": type(exc).__name__})
        raise _not_sent("unavailable") from None
    return "sent"
