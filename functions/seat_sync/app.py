"""Scheduled (EventBridge, every 5 minutes): sends to Stripe the seat counts that did not reach it right after
their membership change (agentmode.seats), until each lands."""

import time
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from agentmode.observability import logger, metrics
from agentmode.seats import sync_seats

# Organizations are not started in the last seconds of the invocation: one sync takes at most 2 calls x 3 tries.
RESERVE_SECONDS = 35.0


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - RESERVE_SECONDS
    report = sync_seats(deadline=deadline)
    logger.info("seat sync run", extra=asdict(report))
    return asdict(report)
