"""Scheduled (EventBridge, every minute): closes the agent questions whose timeout passed and ends the runs that
stalled or passed their deadline (docs/runner.md), each exactly once however many sweeps overlap."""

import time
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from run_sweeper.sweep import sweep

from agentmode.observability import logger, metrics

# Sessions are not started in the last seconds of the invocation: one takes a transaction and an SQS send (2 tries).
RESERVE_SECONDS = 20.0


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - RESERVE_SECONDS
    report = sweep(deadline=deadline)
    metrics.add_metric(name="AgentRunsStalled", unit="Count", value=report.runs_stalled + report.runs_past_deadline)
    metrics.add_metric(name="UserInputTimeouts", unit="Count", value=report.questions_timed_out)
    # Every minute in AWS (every 5 s locally): a sweep that found nothing logs at debug only.
    (logger.info if report.found else logger.debug)("run sweep", extra=asdict(report))
    return asdict(report)
