"""A stateful loopback stand-in for the part of Stripe's API that billing and seats call (Stripe cannot run here).

Stripe's objects, their shapes, what each call does to them and the errors it answers are in
tests.stripe_billing_objects; this module serves them over HTTP, as Stripe documents it for API version 2026-10-28
(stripe-python 16.1's default):
- requests: `Authorization: Bearer <secret key>`; GET parameters in the query string, POST bodies form-encoded
  (`application/x-www-form-urlencoded`) with nested keys and indexed arrays as stripe-python writes them
  (`line_items[0][price]`, `metadata[org_id]`, `expand[0]`), booleans as `true`/`false`;
- `Idempotency-Key` on POSTs: the first successful answer is stored per key; the same key with the same method, path
  and parameters replays it (header `Idempotent-Replayed: true`), with other parameters it is 400 `idempotency_error`,
  and while the first is still running 409 `idempotency_error` (`idempotency_key_in_use`). Failed answers are not
  stored (Stripe stores only requests that began executing; the failures here stand for an API that did not).

Failure modes: `fail_with` (503, 500 or 429) answers every request (or those whose path starts with one of
`fail_paths`) with that error; `delay` holds each answer; a closed port (tests.faults.stubs.closed_port) is Stripe down.
"""

import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.http_stub import send_json
from tests.stripe_billing_objects import (
    API_KEY,
    APP_URL,
    ERROR_DETAIL,
    PRICE_ID,
    PRODUCT_ID,
    StripeFailure,
    StripeObjects,
)

__all__ = ["API_KEY", "APP_URL", "ERROR_DETAIL", "PRICE_ID", "PRODUCT_ID", "StripeBillingStub", "StripeRequest"]

ERROR_TYPES = {
    429: ("invalid_request_error", "rate_limit", "Request rate limit exceeded."),
    500: ("api_error", None, "An unknown error occurred."),
    503: ("api_error", None, "The service is temporarily unavailable."),
}


@dataclass(frozen=True)
class StripeRequest:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    api_key: str
    replayed: bool


def parse_params(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """stripe-python's encoding back to nested dicts, with indexed keys (`a[0]`) as lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        parts = [head, *[p.rstrip("]") for p in rest.split("[")]] if rest else [head]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    parsed: dict[str, Any] = _lists(root)
    return parsed


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


class StripeBillingStub(StripeObjects):
    """Stripe's API on loopback, serving the objects of StripeObjects; `requests` records every call with its parameters
    and idempotency key."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[StripeRequest] = []
        self.fail_with: int | None = None
        self.fail_paths: tuple[str, ...] = ()
        self.delay = 0.0
        self._stored: dict[str, tuple[tuple[str, str, str], int, dict[str, Any]]] = {}
        self._running: set[str] = set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer._serve(self, "GET")

            def do_POST(self) -> None:
                outer._serve(self, "POST")

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    # -- arranging Stripe's side ---------------------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        """The settings of a function that calls Stripe as deployed (its key, the plan's price, the web app), with
        Stripe's API here."""
        return {
            "STRIPE_SECRET_KEY": API_KEY,
            "STRIPE_API_BASE": self.url,
            "STRIPE_SUBSCRIPTION_PRICE_ID": PRICE_ID,
            "APP_URL": APP_URL,
        }

    def configure(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """environment() set for the test; the caller resets the function state."""
        for name, value in self.environment().items():
            monkeypatch.setenv(name, value)

    # -- what the tests read ----------------------------------------------------------------------------------------

    def calls(self, method: str, path: str) -> list[StripeRequest]:
        """Requests to exactly `path`, or to any path under it when it ends with '/'."""
        return [
            r
            for r in self.requests
            if r.method == method and (r.path == path or (path.endswith("/") and r.path.startswith(path)))
        ]

    @property
    def session_creates(self) -> list[StripeRequest]:
        return self.calls("POST", "/v1/checkout/sessions")

    @property
    def customer_creates(self) -> list[StripeRequest]:
        return self.calls("POST", "/v1/customers")

    @property
    def portal_creates(self) -> list[StripeRequest]:
        return self.calls("POST", "/v1/billing_portal/sessions")

    @property
    def price_reads(self) -> list[StripeRequest]:
        return self.calls("GET", "/v1/prices/")

    def subscription_updates(self, sub_id: str) -> list[StripeRequest]:
        return self.calls("POST", f"/v1/subscriptions/{sub_id}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- serving ----------------------------------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        raw = handler.rfile.read(int(handler.headers.get("content-length") or 0)).decode()
        params = parse_params(parse_qsl(url.query if method == "GET" else raw, keep_blank_values=True))
        key = handler.headers.get("Idempotency-Key") if method == "POST" else None
        auth = handler.headers.get("Authorization") or ""
        status, body, replayed = self._answer(method, url.path, params, key, auth)
        with self._lock:
            self.requests.append(StripeRequest(method, url.path, params, key, auth.removeprefix("Bearer "), replayed))
        headers = {"request-id": f"req_{uuid.uuid4().hex[:14]}", "stripe-version": "2026-10-28.endive"}
        if key:
            headers["idempotency-key"] = key
        if replayed:
            headers["idempotent-replayed"] = "true"
        send_json(handler, status, body, headers)

    def _answer(
        self, method: str, path: str, params: dict[str, Any], key: str | None, auth: str
    ) -> tuple[int, dict[str, Any], bool]:
        if self.fail_with is not None and (not self.fail_paths or path.startswith(self.fail_paths)):
            error_type, code, message = ERROR_TYPES[self.fail_with]
            return self.fail_with, StripeFailure(self.fail_with, error_type, code, message).body, False
        if auth != f"Bearer {API_KEY}":
            return 401, StripeFailure(401, "invalid_request_error", None, "Invalid API Key provided.").body, False
        signature = (method, path, json.dumps(params, sort_keys=True))
        with self._lock:
            if key is not None and key in self._running:
                failure = StripeFailure(409, "idempotency_error", "idempotency_key_in_use", "A request with this key is running.")
                return 409, failure.body, False
            if key is not None and key in self._stored:
                stored_signature, status, body = self._stored[key]
                if stored_signature != signature:
                    message = "Keys for idempotent requests can only be used with the same parameters they were first used with."
                    return 400, StripeFailure(400, "idempotency_error", None, message).body, False
                return status, body, True
            if key is not None:
                self._running.add(key)
        try:
            time.sleep(self.delay)
            with self._lock:
                status, body = self._route(method, path, params)
                if key is not None and status < 400:
                    self._stored[key] = (signature, status, body)
        finally:
            with self._lock:
                self._running.discard(key or "")
        return status, body, False

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        parts = path.removeprefix("/v1/").split("/")
        expand = set(params.get("expand") or [])
        try:
            match (method, *parts):
                case ("GET", "prices", price_id):
                    return 200, self._found(self.prices, price_id, "price")
                case ("GET", "coupons", coupon_id):
                    return 200, self._coupon(self._found(self.coupons, coupon_id, "coupon"), expand)
                case ("GET", "promotion_codes"):
                    return 200, self._list_promotion_codes(params, {e.removeprefix("data.") for e in expand})
                case ("GET", "subscriptions", sub_id):
                    return 200, self._found(self.subscriptions, sub_id, "subscription")
                case ("POST", "subscriptions", sub_id):
                    return 200, self._update_subscription(self._found(self.subscriptions, sub_id, "subscription"), params)
                case ("GET", "checkout", "sessions", session_id):
                    return 200, self._session(self._found(self.sessions, session_id, "checkout.session"), expand)
                case ("POST", "checkout", "sessions"):
                    return 200, self._session(self._create_session(params), set())
                case ("POST", "checkout", "sessions", session_id, "expire"):
                    return 200, self._session(self._expire(self._found(self.sessions, session_id, "checkout.session")), set())
                case ("POST", "customers"):
                    return 200, self._create_customer(params)
                case ("POST", "billing_portal", "sessions"):
                    return 200, self._create_portal_session(params)
                case ("POST", "invoices", "create_preview"):
                    return 200, self._preview_invoice(params)
        except StripeFailure as failure:
            return failure.status, failure.body
        return 404, StripeFailure(404, "invalid_request_error", None, f"Unrecognized request URL ({method}: {path}).").body
