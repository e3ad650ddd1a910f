"""A stateful loopback stand-in for the part of Stripe's API that billing and seats call (Stripe cannot run here).

Shapes as Stripe documents them for API version 2026-10-28 (stripe-python 16.1's default):
- requests: `Authorization: Bearer <secret key>`; GET parameters in the query string, POST bodies form-encoded
  (`application/x-www-form-urlencoded`) with nested keys and indexed arrays as stripe-python writes them
  (`line_items[0][price]`, `metadata[org_id]`, `expand[0]`), booleans as `true`/`false`;
- `Idempotency-Key` on POSTs: the first successful answer is stored per key; the same key with the same method, path
  and parameters replays it (header `Idempotent-Replayed: true`), with other parameters it is 400 `idempotency_error`,
  and while the first is still running 409 `idempotency_error` (`idempotency_key_in_use`). Failed answers are not
  stored (Stripe stores only requests that began executing; the failures here stand for an API that did not);
- objects: `customer`; `checkout.session` (`client_secret` `cs_…_secret_…`, `status` open → complete | expired,
  `expires_at` 24 h on, `subscription` an id unless `expand[]=subscription`); `subscription` (items.data[] with `id`,
  `price` object, `quantity`, the period on the item since 2025-03-31); `promotion_code` (since 2025-09-30 the coupon
  is `promotion.coupon`, an id unless expanded; `restrictions` with `first_time_transaction`, `minimum_amount`,
  `minimum_amount_currency`, and `currency_options` only when expanded); `coupon` (`applies_to` and
  `currency_options` only when expanded); `price` (`unit_amount`, `currency`, `product`, `recurring`); lists as
  `{"object": "list", "data", "has_more", "url"}`;
- Checkout Sessions take `ui_mode` `elements`, `embedded_page`, `form` or `hosted_page` (2026-03-25 removed `custom`,
  `embedded` and `hosted`: those are 400 `parameter_invalid_enum`);
- errors: `{"error": {"type", "code", "param", "message", "doc_url"}}` with the status: 404 `resource_missing`
  (`invalid_request_error`), 400 for invalid parameters, 429 `rate_limit`, 500/503 `api_error`. Every message carries
  ERROR_DETAIL, text a client must never see.

Failure modes: `fail_with` (503, 500 or 429) answers every request (or those whose path starts with one of
`fail_paths`) with that error; `delay` holds each answer; a closed port (tests.faults.stubs.closed_port) is Stripe down.
"""

import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.http_stub import send_json

API_KEY = "sk_test_billing_stub"
PRICE_ID = "price_pro_seat"
PRODUCT_ID = "prod_agentmode_pro"
APP_URL = "https://app.example.test"
ERROR_DETAIL = "acct_1StripeInternalDetail"
UI_MODES = frozenset({"elements", "embedded_page", "form", "hosted_page"})
PERIOD_SECONDS = 30 * 86400

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


class StripeFailure(Exception):
    def __init__(self, status: int, error_type: str, code: str | None, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = {
            "error": {
                "type": error_type, "code": code, "param": param, "message": f"{message} ({ERROR_DETAIL})",
                "doc_url": f"https://stripe.com/docs/error-codes/{code}" if code else None,
            }
        }  # fmt: skip


def missing(kind: str, object_id: str, param: str = "id") -> StripeFailure:
    return StripeFailure(404, "invalid_request_error", "resource_missing", f"No such {kind}: '{object_id}'", param)


def invalid(param: str, message: str, code: str = "parameter_invalid") -> StripeFailure:
    return StripeFailure(400, "invalid_request_error", code, message, param)


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


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class StripeBillingStub:
    """Stripe's objects in memory; `requests` records every call with its parameters and idempotency key."""

    def __init__(self) -> None:
        self.customers: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.promotion_codes: dict[str, dict[str, Any]] = {}
        self.coupons: dict[str, dict[str, Any]] = {}
        self.prices: dict[str, dict[str, Any]] = {}
        self.requests: list[StripeRequest] = []
        self.fail_with: int | None = None
        self.fail_paths: tuple[str, ...] = ()
        self.delay = 0.0
        self._stored: dict[str, tuple[tuple[str, str, str], int, dict[str, Any]]] = {}
        self._running: set[str] = set()
        self._lock = threading.RLock()
        self.add_price(PRICE_ID)
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

    def add_price(self, price_id: str, *, unit_amount: int = 4000, currency: str = "usd", product: str = PRODUCT_ID) -> None:
        self.prices[price_id] = {
            "id": price_id, "object": "price", "active": True, "billing_scheme": "per_unit", "created": int(time.time()),
            "currency": currency, "livemode": False, "lookup_key": None, "metadata": {}, "nickname": None, "product": product,
            "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed", "meter": None},
            "tax_behavior": "unspecified", "type": "recurring", "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit_amount),
        }  # fmt: skip

    def add_coupon(
        self, coupon_id: str, *, percent_off: float | None = None, amount_off: int | None = None, currency: str | None = None,
        duration: str = "forever", duration_in_months: int | None = None, valid: bool = True, products: list[str] | None = None,
        currency_options: dict[str, dict[str, int]] | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        self.coupons[coupon_id] = {
            "id": coupon_id, "object": "coupon", "amount_off": amount_off, "created": int(time.time()), "currency": currency,
            "duration": duration, "duration_in_months": duration_in_months, "livemode": False, "max_redemptions": None,
            "metadata": {}, "name": coupon_id, "percent_off": percent_off, "redeem_by": None, "times_redeemed": 0, "valid": valid,
            "_applies_to": {"products": products} if products else None, "_currency_options": currency_options or {},
        }  # fmt: skip
        return self.coupons[coupon_id]

    def add_promotion_code(
        self, code: str, coupon_id: str, *, active: bool = True, expires_at: int | None = None,
        max_redemptions: int | None = None, times_redeemed: int = 0, first_time_transaction: bool = False,
        minimum_amount: int | None = None, minimum_amount_currency: str | None = None, customer: str | None = None,
    ) -> str:  # fmt: skip
        promo_id = new_id("promo")
        self.promotion_codes[promo_id] = {
            "id": promo_id, "object": "promotion_code", "active": active, "code": code, "created": int(time.time()),
            "customer": customer, "customer_account": None, "expires_at": expires_at, "livemode": False,
            "max_redemptions": max_redemptions, "metadata": {}, "promotion": {"type": "coupon", "coupon": coupon_id},
            "restrictions": {"first_time_transaction": first_time_transaction, "minimum_amount": minimum_amount,
                             "minimum_amount_currency": minimum_amount_currency},
            "times_redeemed": times_redeemed,
        }  # fmt: skip
        return promo_id

    def add_customer(self, name: str = "Existing customer") -> str:
        return str(self._create_customer({"name": name})["id"])

    def add_subscription(
        self, sub_id: str | None = None, *, customer: str = "cus_existing", status: str = "active",
        cancel_at_period_end: bool = False, quantity: int = 1, price_id: str = PRICE_ID, metadata: dict[str, str] | None = None,
    ) -> str:  # fmt: skip
        sub_id = sub_id or new_id("sub")
        now = int(time.time())
        item = {
            "id": new_id("si"), "object": "subscription_item", "created": now, "current_period_start": now,
            "current_period_end": now + PERIOD_SECONDS, "metadata": {}, "price": self.prices[price_id], "quantity": quantity,
            "subscription": sub_id,
        }  # fmt: skip
        self.subscriptions[sub_id] = {
            "id": sub_id, "object": "subscription", "cancel_at": None, "cancel_at_period_end": cancel_at_period_end,
            "canceled_at": None, "created": now, "currency": self.prices[price_id]["currency"], "customer": customer,
            "items": {"object": "list", "data": [item], "has_more": False, "url": "/v1/subscription_items"},
            "livemode": False, "metadata": metadata or {}, "status": status,
        }  # fmt: skip
        return sub_id

    def complete_session(self, session_id: str, subscription_status: str = "active") -> str:
        """The customer paid: the session completes with a new subscription, as Stripe would record it."""
        with self._lock:
            session = self.sessions[session_id]
            line = session["_line_items"][0]
            sub_id = self.add_subscription(
                customer=session["customer"], status=subscription_status, quantity=int(line["quantity"]),
                price_id=line["price"], metadata=session["_subscription_metadata"],
            )  # fmt: skip
            session.update(status="complete", payment_status="paid", subscription=sub_id)
            return sub_id

    def expire_session(self, session_id: str) -> None:
        with self._lock:
            self.sessions[session_id].update(status="expired", client_secret=None)

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

    def subscription_updates(self, sub_id: str) -> list[StripeRequest]:
        return self.calls("POST", f"/v1/subscriptions/{sub_id}")

    def quantity(self, sub_id: str) -> int:
        return int(self.subscriptions[sub_id]["items"]["data"][0]["quantity"])

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
        except StripeFailure as failure:
            return failure.status, failure.body
        return 404, StripeFailure(404, "invalid_request_error", None, f"Unrecognized request URL ({method}: {path}).").body

    @staticmethod
    def _found(store: dict[str, dict[str, Any]], object_id: str, kind: str) -> dict[str, Any]:
        if object_id not in store:
            raise missing(kind, object_id)
        return store[object_id]

    @staticmethod
    def _public(obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    def _coupon(self, coupon: dict[str, Any], expand: set[str], prefix: str = "") -> dict[str, Any]:
        shown = self._public(coupon)
        if f"{prefix}applies_to" in expand and coupon["_applies_to"]:
            shown["applies_to"] = coupon["_applies_to"]
        if f"{prefix}currency_options" in expand:
            shown["currency_options"] = coupon["_currency_options"]
        return shown

    def _list_promotion_codes(self, params: dict[str, Any], expand: set[str]) -> dict[str, Any]:
        code = str(params.get("code") or "").lower()
        active = params.get("active")
        found = [
            p for p in self.promotion_codes.values()
            if (not code or p["code"].lower() == code) and (active is None or p["active"] == (active == "true"))
        ]  # fmt: skip
        data = [self._promotion(p, expand) for p in found[: int(params.get("limit") or 10)]]
        return {"object": "list", "data": data, "has_more": len(found) > len(data), "url": "/v1/promotion_codes"}

    def _promotion(self, promo: dict[str, Any], expand: set[str]) -> dict[str, Any]:
        shown = json.loads(json.dumps(promo))
        if "promotion.coupon" in expand:
            shown["promotion"]["coupon"] = self._coupon(self.coupons[promo["promotion"]["coupon"]], expand, "promotion.coupon.")
        if "restrictions.currency_options" in expand:
            shown["restrictions"]["currency_options"] = {}
        return dict(shown)

    def _create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        customer_id = new_id("cus")
        self.customers[customer_id] = {
            "id": customer_id, "object": "customer", "created": int(time.time()), "email": params.get("email"),
            "livemode": False, "metadata": params.get("metadata") or {}, "name": params.get("name"),
        }  # fmt: skip
        return self.customers[customer_id]

    def _create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("ui_mode") not in UI_MODES:
            raise invalid(
                "ui_mode",
                "Invalid ui_mode: must be one of elements, embedded_page, form or hosted_page",
                "parameter_invalid_enum",
            )
        if params.get("mode") != "subscription":
            raise invalid("mode", "This stand-in serves subscription checkouts only.")
        if params["ui_mode"] in ("elements", "embedded_page") and not params.get("return_url"):
            raise invalid("return_url", "return_url is required for this ui_mode.", "parameter_missing")
        customer = params.get("customer")
        if customer is not None and customer not in self.customers:
            raise missing("customer", customer, "customer")
        lines = params.get("line_items") or []
        if not lines:
            raise invalid("line_items", "line_items is required in subscription mode.", "parameter_missing")
        for index, line in enumerate(lines):
            if line.get("price") not in self.prices:
                raise missing("price", str(line.get("price")), f"line_items[{index}][price]")
        for index, discount in enumerate(params.get("discounts") or []):
            self._check_discount(index, discount)
        session_id = f"cs_test_{secrets.token_hex(24)}"
        now = int(time.time())
        price = self.prices[lines[0]["price"]]
        subtotal = int(price["unit_amount"]) * int(lines[0]["quantity"])
        self.sessions[session_id] = {
            "id": session_id, "object": "checkout.session", "amount_subtotal": subtotal, "amount_total": subtotal,
            "client_reference_id": params.get("client_reference_id"),
            "client_secret": f"{session_id}_secret_{secrets.token_hex(12)}",
            "created": now, "currency": price["currency"], "customer": customer, "discounts": params.get("discounts") or [],
            "expires_at": now + 86400, "livemode": False, "metadata": params.get("metadata") or {}, "mode": "subscription",
            "payment_status": "unpaid", "return_url": params.get("return_url"), "status": "open", "subscription": None,
            "ui_mode": params["ui_mode"], "url": None,
            "_line_items": lines, "_subscription_metadata": (params.get("subscription_data") or {}).get("metadata") or {},
        }  # fmt: skip
        return self.sessions[session_id]

    def _check_discount(self, index: int, discount: dict[str, Any]) -> None:
        promo_id, coupon_id = discount.get("promotion_code"), discount.get("coupon")
        if promo_id is not None and (promo_id not in self.promotion_codes or not self.promotion_codes[promo_id]["active"]):
            raise missing("promotion code", str(promo_id), f"discounts[{index}][promotion_code]")
        if coupon_id is not None and (coupon_id not in self.coupons or not self.coupons[coupon_id]["valid"]):
            raise missing("coupon", str(coupon_id), f"discounts[{index}][coupon]")

    def _session(self, session: dict[str, Any], expand: set[str]) -> dict[str, Any]:
        shown = self._public(session)
        if "subscription" in expand and session["subscription"]:
            shown["subscription"] = self.subscriptions[session["subscription"]]
        return shown

    def _expire(self, session: dict[str, Any]) -> dict[str, Any]:
        if session["status"] != "open":
            raise invalid(
                "session", f'Only Checkout Sessions with a status in ["open"] can be expired; this one is {session["status"]}.'
            )
        session.update(status="expired", client_secret=None)
        return session

    def _update_subscription(self, sub: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        if sub["status"] in ("canceled", "incomplete_expired"):
            raise invalid("subscription", "A canceled subscription can only update its cancellation_details and metadata.")
        if "cancel_at_period_end" in params:
            cancelling = params["cancel_at_period_end"] == "true"
            period_end = sub["items"]["data"][0]["current_period_end"]
            sub.update(cancel_at_period_end=cancelling, cancel_at=period_end if cancelling else None)
        for index, change in enumerate(params.get("items") or []):
            item = next((i for i in sub["items"]["data"] if i["id"] == change.get("id")), None)
            if item is None:
                raise invalid(f"items[{index}][id]", "No such subscription item on this subscription.")
            if "quantity" in change:
                item["quantity"] = int(change["quantity"])
        return sub
