"""Stripe's side of the webhook, on loopback: event payloads, the v1 signature, and the two API reads we make.

Shapes follow Stripe's API reference for API version 2026-10-28 (stripe-python 16.1's default): a Checkout Session
retrieved with `expand[]=line_items&expand[]=subscription`, a Subscription whose period lives on its items (since
2025-03-31), a Charge, and `{"error": {...}}` bodies for failures.
"""

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from local.make_events import stripe_signature_header

PRICE_ID = "price_pro_monthly"
PERIOD_END = 1_800_000_000


sign = stripe_signature_header


def event(event_type: str, obj: dict[str, Any], created: int | None = None, event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2026-10-28",
        "created": int(time.time()) if created is None else created,
        "type": event_type,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": obj},
    }


def subscription(sub_id: str, status: str = "active", *, customer: str = "cus_test", org_id: str | None = None,
                 cancel_at_period_end: bool = False, period_end: int = PERIOD_END) -> dict[str, Any]:  # fmt: skip
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "cancel_at_period_end": cancel_at_period_end,
        "metadata": {"org_id": org_id} if org_id else {},
        "items": {
            "object": "list",
            "data": [{"id": f"si_{sub_id}", "object": "subscription_item", "current_period_end": period_end,
                      "current_period_start": period_end - 2_592_000, "price": {"id": PRICE_ID, "object": "price"}}],
        },
    }  # fmt: skip


def checkout_session(session_id: str, org_id: str, sub_id: str, customer: str = "cus_test") -> dict[str, Any]:
    """As the event carries it: no line items, the subscription as an id."""
    return {
        "id": session_id,
        "object": "checkout.session",
        "mode": "subscription",
        "status": "complete",
        "payment_status": "paid",
        "client_reference_id": org_id,
        "customer": customer,
        "subscription": sub_id,
        "metadata": {},
    }


def dispute(dispute_id: str, charge_id: str) -> dict[str, Any]:
    return {"id": dispute_id, "object": "dispute", "charge": charge_id, "amount": 4900, "currency": "usd",
            "reason": "fraudulent", "status": "needs_response", "payment_intent": "pi_test"}  # fmt: skip


class StripeApiStub:
    """GET /v1/checkout/sessions/{id} and GET /v1/charges/{id}, answered from what the test registered."""

    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.requests: list[str] = []
        self.fail_with: int | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                path = urlsplit(self.path).path
                store, _, key = path.removeprefix("/v1/").rpartition("/")
                found = {"checkout/sessions": outer.sessions, "charges": outer.charges}.get(store, {}).get(key)
                if outer.fail_with:
                    self._send(outer.fail_with, {"error": {"type": "api_error", "message": "An unknown error occurred"}})
                elif found is None:
                    self._send(
                        404, {"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "No such object"}}
                    )
                else:
                    self._send(200, found)

            def _send(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("request-id", f"req_{uuid.uuid4().hex[:14]}")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def add_checkout(self, session: dict[str, Any], sub: dict[str, Any], price_id: str = PRICE_ID) -> None:
        line_items = {
            "object": "list",
            "data": [{"id": "li_1", "object": "item", "price": {"id": price_id, "object": "price"}, "quantity": 1}],
        }
        self.sessions[session["id"]] = {**session, "line_items": line_items, "subscription": sub}

    def add_charge(self, charge_id: str, customer: str) -> None:
        self.charges[charge_id] = {"id": charge_id, "object": "charge", "customer": customer, "amount": 4900, "currency": "usd"}

    def configure(self, monkeypatch: pytest.MonkeyPatch, webhook_secret: str, api_key: str = "sk_test_stub") -> None:
        """The webhook as deployed (its secret, an API key, the pro price) with Stripe's API here, from a clean slate;
        the caller resets the function state."""
        self.fail_with = None
        self.requests.clear()
        monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", webhook_secret)
        monkeypatch.setenv("STRIPE_SECRET_KEY", api_key)
        monkeypatch.setenv("STRIPE_SUBSCRIPTION_PRICE_ID", PRICE_ID)
        monkeypatch.setenv("STRIPE_API_BASE", self.url)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
