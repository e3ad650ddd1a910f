"""update-subscription: the real server changes the subscription's price and proration at Stripe. Here the plan has
one price (pinned) and seats follow the members through seat sync (agentmode.seats), the one writer of Stripe's
quantity, so an update can only bring the subscription back in line: the seats are recorded again as the member
count in the request's transaction, and sent after the commit like any membership change. That also corrects a
quantity changed at Stripe by other means, and sends a pending change now rather than at seat_sync's next run.
"""

from uuid import UUID

from agentmode.db import Connection
from agentmode.settings import Settings
from opsboard_billing.org_billing import begin_billing, resync_seats
from opsboard_billing.plan import refuse_unpinned_price
from opsboard_billing.schemas import SeatsResent, SubscriptionUpdateBody


def record_seats(conn: Connection, org_id: UUID, body: SubscriptionUpdateBody, settings: Settings) -> SeatsResent:
    """Owners and admins; 409 NO_SUBSCRIPTION without a live subscription. The caller sends the seats after commit."""
    begin_billing(conn, org_id)
    refuse_unpinned_price(body.price_id, settings)
    seats = resync_seats(conn, org_id)
    return SeatsResent(seats=seats, message=f"The subscription bills {seats} seats, one per member.")
