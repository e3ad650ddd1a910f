"""The two Stripe API look-ups the webhook needs, with a timeout and bounded retries.

A checkout.session.completed event carries no line items and no period dates, and a dispute names only its charge:
the session (with its line items and subscription expanded) and the charge are fetched. Reads only: nothing here
creates anything at Stripe, so no idempotency key is needed.
"""

from typing import Any, Protocol

import stripe

from agentmode.observability import logger
from agentmode.settings import Settings
from agentmode.stripe_client import stripe_client, stripe_unavailable


class StripeApi(Protocol):
    def checkout_session(self, session_id: str) -> dict[str, Any]: ...

    def charge(self, charge_id: str) -> dict[str, Any]: ...


class StripeClientApi:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    def checkout_session(self, session_id: str) -> dict[str, Any]:
        return self._call(
            lambda: self.client.v1.checkout.sessions.retrieve(session_id, {"expand": ["line_items", "subscription"]})
        )

    def charge(self, charge_id: str) -> dict[str, Any]:
        return self._call(lambda: self.client.v1.charges.retrieve(charge_id))

    @staticmethod
    def _call(request: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = request().to_dict()
        except stripe.StripeError as exc:
            logger.warning("stripe api call failed", extra={"error_type": type(exc).__name__})
            raise stripe_unavailable("stripe api error") from None
        return result


def stripe_api_for(settings: Settings) -> StripeApi:
    """The container's Stripe client (agentmode.stripe_client), read per event so a rotated key is picked up."""
    return StripeClientApi(stripe_client(settings))
