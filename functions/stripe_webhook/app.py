"""POST /v4/stripe-webhook: the stripe_webhook Lambda (no JWT: Stripe signs each delivery)."""

import gc

gc.disable()  # until the handler exists: agentmode.lambda_entry.lambda_handler says why

from agentmode.app_factory import create_app
from agentmode.lambda_entry import lambda_handler
from stripe_webhook.routes import router

# Stripe events can be large (a subscription with many items): allow 1 MiB, still well under API Gateway's 10 MB.
app = create_app(router, title="stripe_webhook", max_body_bytes=1024 * 1024, authenticated=False)
handler = lambda_handler(app)
