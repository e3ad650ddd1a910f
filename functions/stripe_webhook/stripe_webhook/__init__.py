"""stripe_webhook's own code: signature check, Stripe API look-ups, and the billing state machine of an organization."""
