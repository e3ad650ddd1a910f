"""Stripe's objects as the loopback stand-in (tests.stripe_billing_stub) holds them, and what each API call does to them.

Shapes as Stripe documents them for API version 2026-10-28 (stripe-python 16.1's default):
- objects: `customer`; `checkout.session` (`client_secret` `cs_…_secret_…`, `status` open → complete | expired,
  `expires_at` 24 h on, `subscription` an id unless `expand[]=subscription`); `subscription` (items.data[] with `id`,
  `price` object, `quantity`, the period on the item since 2025-03-31); `promotion_code` (since 2025-09-30 the coupon
  is `promotion.coupon`, an id unless expanded; `restrictions` with `first_time_transaction`, `minimum_amount`,
  `minimum_amount_currency`, and `currency_options` only when expanded); `coupon` (`applies_to` and
  `currency_options` only when expanded); `price` (`unit_amount`, `currency`, `product`, `recurring`); lists as
  `{"object": "list", "data", "has_more", "url"}`;
- `billing_portal.session` (API reference "The Customer portal Session object" / "Create a portal session":
  `POST /v1/billing_portal/sessions` with `customer` (required, 404 `resource_missing` when unknown) and `return_url`;
  `url` on billing.stripe.com, `configuration` the account's default `bpc_…`, short-lived so never listed);
- the preview `invoice` of `POST /v1/invoices/create_preview` (API reference "Create a preview invoice", "The Invoice
  Line Item object") for a quantity change of a subscription item with `proration_behavior=create_prorations`: a
  credit line for the unused time of the old quantity and a debit line for the remaining time of the new one, each
  `parent.type` `subscription_item_details` with `proration: true` and rounded on its own, as Stripe prorates by the
  second over the item's current period; then the next period's line for the new quantity (`proration: false`);
- Checkout Sessions take `ui_mode` `elements`, `embedded_page`, `form` or `hosted_page` (2026-03-25 removed `custom`,
  `embedded` and `hosted`: those are 400 `parameter_invalid_enum`);
- errors: `{"error": {"type", "code", "param", "message", "doc_url"}}` with the status: 404 `resource_missing`
  (`invalid_request_error`), 400 for invalid parameters, 429 `rate_limit`, 500/503 `api_error`. Every message carries
  ERROR_DETAIL, text a client must never see.
"""

import json
import secrets
import threading
import time
from typing import Any

API_KEY = "sk_test_billing_stub"
PRICE_ID = "price_pro_seat"
PRODUCT_ID = "prod_agentmode_pro"
APP_URL = "https://app.example.test"
ERROR_DETAIL = "acct_1StripeInternalDetail"
UI_MODES = frozenset({"elements", "embedded_page", "form", "hosted_page"})
PERIOD_SECONDS = 30 * 86400


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


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class StripeObjects:
    """Stripe's objects in memory: the tests arrange them with `add_*`, the stand-in's routes show and change them."""

    def __init__(self) -> None:
        self.customers: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.promotion_codes: dict[str, dict[str, Any]] = {}
        self.coupons: dict[str, dict[str, Any]] = {}
        self.prices: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self.add_price(PRICE_ID)

    # -- arranging Stripe's side ---------------------------------------------------------------------------------

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

    def quantity(self, sub_id: str) -> int:
        return int(self.subscriptions[sub_id]["items"]["data"][0]["quantity"])

    # -- what the API's calls show and change (routed by tests.stripe_billing_stub) ---------------------------------

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

    def _create_portal_session(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = params.get("customer")
        if not customer:
            raise invalid("customer", "Missing required param: customer.", "parameter_missing")
        if customer not in self.customers:
            raise missing("customer", str(customer), "customer")
        session_id = new_id("bps")
        return {
            "id": session_id, "object": "billing_portal.session", "configuration": "bpc_default_configuration",
            "created": int(time.time()), "customer": customer, "customer_account": None, "flow": None, "livemode": False,
            "locale": None, "on_behalf_of": None, "return_url": params.get("return_url"),
            "url": f"https://billing.stripe.com/p/session/test_{session_id.removeprefix('bps_')}",
        }  # fmt: skip

    def _preview_invoice(self, params: dict[str, Any]) -> dict[str, Any]:
        sub = self._found(self.subscriptions, str(params.get("subscription")), "subscription")
        if sub["status"] in ("canceled", "incomplete_expired"):
            raise invalid("subscription", "A canceled subscription has no upcoming invoice to preview.")
        details = params.get("subscription_details") or {}
        lines: list[dict[str, Any]] = []
        now = int(time.time())
        for index, change in enumerate(details.get("items") or []):
            item = next((i for i in sub["items"]["data"] if i["id"] == change.get("id")), None)
            if item is None:
                raise invalid(f"subscription_details[items][{index}][id]", "No such subscription item on this subscription.")
            new_quantity = int(change.get("quantity", item["quantity"]))
            if details.get("proration_behavior", "create_prorations") != "none" and new_quantity != item["quantity"]:
                remaining = (item["current_period_end"] - now) / (item["current_period_end"] - item["current_period_start"])
                unit = int(item["price"]["unit_amount"])
                lines.append(self._line(sub, item, -round(unit * item["quantity"] * remaining), item["quantity"], True))
                lines.append(self._line(sub, item, round(unit * new_quantity * remaining), new_quantity, True))
            lines.append(self._line(sub, item, int(item["price"]["unit_amount"]) * new_quantity, new_quantity, False))
        total = sum(line["amount"] for line in lines)
        return {
            "id": f"upcoming_{new_id('in')}", "object": "invoice", "amount_due": max(total, 0), "currency": sub["currency"],
            "customer": sub["customer"], "livemode": False,
            "lines": {"object": "list", "data": lines, "has_more": False, "url": "/v1/invoices/upcoming/lines"},
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": sub["id"]}},
            "status": "draft", "subtotal": total, "total": total,
        }  # fmt: skip

    @staticmethod
    def _line(sub: dict[str, Any], item: dict[str, Any], amount: int, quantity: int, proration: bool) -> dict[str, Any]:
        return {
            "id": new_id("il"), "object": "line_item", "amount": amount, "currency": sub["currency"], "livemode": False,
            "parent": {"type": "subscription_item_details", "invoice_item_details": None, "subscription_item_details": {
                "invoice_item": new_id("ii") if proration else None, "proration": proration, "proration_details": None,
                "subscription": sub["id"], "subscription_item": item["id"]}},
            "pricing": {"type": "price_details", "price_details": {"price": item["price"]["id"]}}, "quantity": quantity,
        }  # fmt: skip

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
