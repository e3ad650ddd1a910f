"""Supabase user JWTs, verified in-process on every request: HS256 (legacy secret) or ES256/RS256 (project JWKS)."""

import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

import jwt
from fastapi import Depends, Request

from agentmode import rate_limits
from agentmode.app_factory import unstorable
from agentmode.errors import AppError, ErrorCode
from agentmode.identity import AuthUser
from agentmode.observability import logger
from agentmode.runtime_secrets import secret_value
from agentmode.settings import Settings, get_settings

ASYMMETRIC_ALGORITHMS = {"ES256": "EC", "RS256": "RSA"}
JWKS_FETCH_TIMEOUT_SECONDS = 3.0
# An unknown kid forces a JWKS refetch (keys rotate); this bounds how often a stream of forged kids can make us fetch.
MIN_FORCED_REFRESH_SECONDS = 30.0
# Clocks of Supabase Auth and Lambda may differ a little: exp and nbf are honoured this many seconds either way.
CLOCK_SKEW_SECONDS = 5
# Python's UUID() also takes braces, `urn:uuid:` and missing hyphens; Postgres' ::uuid cast in auth.uid() does not.
CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
# The dashboard's cookie (the real AgentOps server sets it); it holds the same Supabase access token as the header.
SESSION_COOKIE = "session_id"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The `kid` of runner credentials: the header tells them from Supabase tokens, each key then decides.
RUNNER_KEY_ID = "agentmode-runner"
# The claims RLS and the functions read (auth.uid(), auth.role(), auth.jwt() ->> 'email'); no other claim reaches Postgres.
DATABASE_CLAIMS = ("sub", "role", "aud", "email", "exp", "iat", "session_id", "is_anonymous")


def _unauthorized(reason: str) -> AppError:
    return AppError(ErrorCode.UNAUTHORIZED, details={"reason": reason})


def fetch_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=JWKS_FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310 - https URL from settings
        data = json.load(response)
    if not isinstance(data, dict):
        raise ValueError("JWKS is not a JSON object")
    return data


class JwksCache:
    """The project's signing keys, kept per container and refetched when stale or when a token names an unknown kid."""

    def __init__(self, url: str, ttl_seconds: float, fetch: Callable[[str], dict[str, Any]] = fetch_json) -> None:
        self.url = url
        self.ttl_seconds = ttl_seconds
        self.fetch = fetch
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def key_for(self, kid: str, alg: str) -> jwt.PyJWK:
        with self._lock:
            age = time.monotonic() - self._fetched_at
            if age > self.ttl_seconds or (kid not in self._keys and age > MIN_FORCED_REFRESH_SECONDS):
                self._refresh()
            key = self._keys.get(kid)
        if key is None:
            raise _unauthorized("unknown signing key")
        if key.algorithm_name != alg:
            raise _unauthorized("key does not match algorithm")
        return key

    def _refresh(self) -> None:
        try:
            document = self.fetch(self.url)
        except Exception:  # noqa: BLE001 - an unreachable JWKS keeps the keys we had; tokens we can't check are rejected
            return
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys", []):
            if isinstance(entry, dict) and entry.get("kid") and entry.get("kty") in ASYMMETRIC_ALGORITHMS.values():
                try:
                    keys[str(entry["kid"])] = jwt.PyJWK(entry)
                except jwt.PyJWTError:
                    continue
        self._keys = keys
        self._fetched_at = time.monotonic()


_jwks_caches: dict[str, JwksCache] = {}


def jwks_for(settings: Settings) -> JwksCache:
    url = f"{settings.supabase_url.rstrip('/')}/auth/v1/.well-known/jwks.json"
    if url not in _jwks_caches:
        _jwks_caches[url] = JwksCache(url, settings.jwks_cache_seconds)
    return _jwks_caches[url]


def _verification_key(header: dict[str, Any], settings: Settings) -> Any:
    alg = header.get("alg")
    if not isinstance(alg, str):  # a list or object here would fail the lookups below as a TypeError (500)
        raise _unauthorized("unsupported algorithm")
    if alg == "HS256":
        secret = secret_value("supabase_jwt_secret", settings)
        if not secret:
            raise _unauthorized("HS256 tokens are not accepted")
        return secret
    if alg in ASYMMETRIC_ALGORITHMS:
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or not settings.supabase_url:
            raise _unauthorized("asymmetric token without a resolvable key")
        return jwks_for(settings).key_for(kid, alg)
    raise _unauthorized("unsupported algorithm")


def _issuer(settings: Settings) -> str | None:
    """The `iss` to require; deployed, one must be known (an empty one would skip the check)."""
    issuer = settings.expected_issuer()
    if not issuer and settings.is_deployed():
        logger.error(
            "SUPABASE_URL and SUPABASE_JWT_ISSUER are not set: tokens cannot be checked", extra={"setting": "SUPABASE_URL"}
        )
        raise AppError(ErrorCode.SERVICE_UNAVAILABLE, details={"service": "auth", "reason": "not configured"})
    return issuer or None


def token_header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise _unauthorized("malformed token") from None


def is_runner_credential(header: dict[str, Any]) -> bool:
    """Runner credentials (agentmode.runner_credentials) name this key; only agentmode.runner_auth's routes verify them."""
    return header.get("kid") == RUNNER_KEY_ID


def verify_token(token: str, settings: Settings) -> AuthUser:
    """A Supabase user token."""
    header = token_header(token)
    if is_runner_credential(header):
        raise _unauthorized("a runner credential is not accepted on this route")
    issuer = _issuer(settings)
    key = _verification_key(header, settings)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[header["alg"]],
            audience=settings.jwt_audience,
            issuer=issuer,
            options={"require": ["exp", "sub", "aud"]},
            leeway=CLOCK_SKEW_SECONDS,
        )
    except jwt.PyJWTError as exc:
        raise _unauthorized(type(exc).__name__) from None
    if claims.get("role") != "authenticated":
        raise _unauthorized("not a user token")
    # Claims are copied into request.jwt.claims (jsonb): NUL or a lone surrogate there would fail every query (a 500).
    if unstorable(claims) is not None:
        raise _unauthorized("claims hold text Postgres cannot store")
    subject = claims["sub"]
    if not isinstance(subject, str) or not CANONICAL_UUID.fullmatch(subject):
        raise _unauthorized("subject is not a user id")
    user_id = UUID(subject)
    email = claims.get("email")
    database_claims = {name: claims[name] for name in DATABASE_CLAIMS if name in claims}
    database_claims["sub"] = str(user_id)
    return AuthUser(id=user_id, role="authenticated", email=email if isinstance(email, str) else None, claims=database_claims)


def request_token(request: Request) -> str:
    """The bearer token, else the `session_id` cookie (how the AgentOps dashboard sends its token: fetch with
    credentials, no Authorization header). A browser sends cookies on its own, so a write carrying only the cookie
    must come from one of the web app's exact origins (CORS_ALLOW_ORIGINS): a forged cross-site form cannot act."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("missing bearer token")
        return token.strip()
    cookie = request.cookies.get(SESSION_COOKIE, "").strip()
    if not cookie:
        raise _unauthorized("missing bearer token")
    if request.method not in SAFE_METHODS and request.headers.get("origin") not in get_settings().allowed_origins():
        raise _unauthorized("a write authenticated by cookie must come from the web app's origin")
    return cookie


async def get_current_user(request: Request) -> AuthUser:  # async: see agentmode.app_factory.create_app
    return admitted_user(verify_token(request_token(request), get_settings()))


def admitted_user(user: AuthUser) -> AuthUser:
    # Every later log line of this invocation names the caller (the Lambda entry clears keys per invocation).
    logger.append_keys(user_id=str(user.id))
    rate_limits.take_api_call(user.id)
    return user


CurrentUser = Annotated[AuthUser, Depends(get_current_user)]
