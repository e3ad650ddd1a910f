"""Seed 001 §10's figures, emitted as CloudWatch metrics (EMF) when an event is logged.

Success rate, tool failure rate and errors per tool are ratios of counts: both counts are emitted (a success as 0
failures) so CloudWatch metric math (template.yaml's alarms) can divide them.
"""

from dataclasses import dataclass
from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit

from agent_event.schemas import EventRequest
from agentmode.observability import add_tool_metric, metrics
from agentmode.sessions import COMPLETED, TERMINAL_STATUSES, EventKind

FAILED_TOOL_STATUSES = frozenset({"error"})


@dataclass(frozen=True)
class MetricPoint:
    name: str
    unit: MetricUnit
    value: float
    # Also emitted per tool, with the tool as a dimension.
    tool_name: str | None = None


def event_metrics(event: EventRequest, session_status: str, started_at: datetime | None, now: datetime) -> list[MetricPoint]:
    """What one logged event adds to the §10 figures. Terminal statuses accept no later event, so the event that
    produced one is the run's last."""
    points: list[MetricPoint] = []
    if event.action_type is EventKind.STEP_COMPLETED and event.execution_time_ms is not None:
        points.append(MetricPoint("StepExecutionTime", MetricUnit.Milliseconds, event.execution_time_ms))
    if event.action_type is EventKind.TOOL_RESULT and event.tool_name:
        failed = 1 if event.status in FAILED_TOOL_STATUSES else 0
        points.append(MetricPoint("ToolCalls", MetricUnit.Count, 1, event.tool_name))
        points.append(MetricPoint("ToolCallFailures", MetricUnit.Count, failed, event.tool_name))
    if event.action_type is EventKind.USER_INPUT_REQUIRED:
        # Asked; the intervention itself (UserInterventions) is counted when the user answers (agent_control).
        points.append(MetricPoint("UserInputRequested", MetricUnit.Count, 1))
    if event.action_type is EventKind.ERROR:
        points.append(MetricPoint("AgentErrors", MetricUnit.Count, 1, event.tool_name))
    if session_status in TERMINAL_STATUSES:
        succeeded = 1 if session_status == COMPLETED else 0
        points.append(MetricPoint("AgentRunsSucceeded", MetricUnit.Count, succeeded))
        points.append(MetricPoint("AgentRunsFailed", MetricUnit.Count, 1 - succeeded))
        if started_at is not None:
            points.append(MetricPoint("AgentRunDuration", MetricUnit.Seconds, (now - started_at).total_seconds()))
    return points


def emit(points: list[MetricPoint]) -> None:
    for point in points:
        metrics.add_metric(name=point.name, unit=point.unit, value=point.value)
        if point.tool_name:
            add_tool_metric(point.name, point.tool_name, point.unit, point.value)
