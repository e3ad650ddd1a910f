"""The route of stripe_webhook."""

from typing import Annotated

from fastapi import APIRouter, Header, Request

from agentmode.api_model import ApiModel
from agentmode.app_factory import documented_errors
from agentmode.runtime_secrets import secret_value
from agentmode.settings import get_settings
from stripe_webhook.events import verified_event
from stripe_webhook.service import handle_event
from stripe_webhook.stripe_api import stripe_api_for

router = APIRouter(tags=["billing"])


class WebhookAck(ApiModel):
    received: bool = True
    event_id: str
    outcome: str


@router.post(
    "/v4/stripe-webhook",
    response_model=WebhookAck,
    responses=documented_errors((400, "WEBHOOK_SIGNATURE_INVALID: nothing was written")),
)
async def receive_stripe_event(
    request: Request, stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None
) -> WebhookAck:
    """Any failure answers 5xx so that Stripe retries; only a verified event that was handled (or is a duplicate) is 200."""
    settings = get_settings()
    event = verified_event(await request.body(), stripe_signature, secret_value("stripe_webhook_secret", settings))
    outcome = handle_event(event, settings, stripe_api_for)
    return WebhookAck(event_id=event.id, outcome=outcome.name)
