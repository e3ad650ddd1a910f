"""customer-portal: a Stripe customer portal session for the organization's one Stripe customer (owners and admins).

Under begin_billing's lock, like every billing action; the idempotency key is org_billing.action_key's, so a retry
after a lost answer gets the same session and the next request a new one (sessions are short-lived).
"""

from uuid import UUID

from agentmode.db import Connection
from agentmode.errors import AppError, ErrorCode
from agentmode.settings import Settings
from agentmode.stripe_client import stripe_client
from opsboard_billing.org_billing import action_key, begin_billing
from opsboard_billing.plan import settings_page
from opsboard_billing.schemas import PortalSession
from opsboard_billing.stripe_errors import STRIPE_RETRIES, stripe_errors


def portal_session(conn: Connection, org_id: UUID, request_key: str | None, settings: Settings) -> PortalSession:
    state = begin_billing(conn, org_id)
    if state.customer_id is None:
        raise AppError(ErrorCode.NO_SUBSCRIPTION, "The organization has no Stripe customer yet: subscribe first.")
    return_url = settings_page(settings)
    client = stripe_client(settings, max_network_retries=STRIPE_RETRIES)
    key = action_key(conn, org_id, "portal", state.customer_id, request_key)
    with stripe_errors("billing_portal_session"):
        session = client.v1.billing_portal.sessions.create(
            {"customer": state.customer_id, "return_url": return_url}, {"idempotency_key": key}
        )
    return PortalSession(url=str(session.url))
