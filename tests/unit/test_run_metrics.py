"""Seed 001 §10's figures as metrics: which logged event adds what."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent_event.run_metrics import MetricPoint, emit, event_metrics
from agent_event.schemas import EventRequest
from agentmode.observability import metrics

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
STARTED = NOW - timedelta(minutes=4)


def event(**fields: Any) -> EventRequest:
    return EventRequest.model_validate({"session_id": str(uuid.uuid4()), **fields})


def names(points: list[MetricPoint]) -> dict[str, float]:
    return {point.name: point.value for point in points}


def test_a_completed_run_counts_a_success_and_its_duration() -> None:
    points = event_metrics(event(action_type="session_completed", status="success"), "completed", STARTED, NOW)

    assert names(points) == {"AgentRunsSucceeded": 1, "AgentRunsFailed": 0, "AgentRunDuration": 240.0}


def test_an_aborted_run_counts_a_failure_and_an_error() -> None:
    points = event_metrics(
        event(action_type="error", error_message="boom", recovery_strategy="abort", tool_name="meta_ads_search"),
        "failed",
        STARTED,
        NOW,
    )

    assert names(points) == {"AgentErrors": 1, "AgentRunsSucceeded": 0, "AgentRunsFailed": 1, "AgentRunDuration": 240.0}
    assert [p.tool_name for p in points if p.name == "AgentErrors"] == ["meta_ads_search"]


@pytest.mark.parametrize(("status", "failures"), [("success", 0), ("error", 1)])
def test_a_tool_result_counts_a_call_and_its_failure_per_tool(status: str, failures: int) -> None:
    points = event_metrics(event(action_type="tool_result", tool_name="web_search", status=status), "running", STARTED, NOW)

    assert names(points) == {"ToolCalls": 1, "ToolCallFailures": failures}
    assert {p.tool_name for p in points} == {"web_search"}


def test_a_completed_step_reports_its_execution_time() -> None:
    points = event_metrics(
        event(action_type="step_completed", step_name="Analyze brand memory", execution_time_ms=2300), "running", STARTED, NOW
    )

    assert names(points) == {"StepExecutionTime": 2300}


def test_asking_the_user_counts_a_request_for_input() -> None:
    asked = event(
        action_type="user_input_required",
        step_name="Review scripts",
        question="Which script should we produce?",
        options=[{"value": "a", "label": "Script A"}, {"value": "b", "label": "Script B"}],
    )

    points = event_metrics(asked, "awaiting_input", STARTED, NOW)

    assert names(points) == {"UserInputRequested": 1}


def test_emitted_metrics_reach_the_emf_output_with_a_tool_dimension(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "agent_event")
    metrics.clear_metrics()

    emit([MetricPoint("ToolCallFailures", "Count", 1, "web_search")])  # type: ignore[arg-type]

    [per_tool] = [json.loads(line) for line in capfd.readouterr().out.splitlines() if '"tool_name"' in line]
    assert (per_tool["ToolCallFailures"], per_tool["tool_name"], per_tool["service"]) == ([1.0], "web_search", "agent_event")
    assert per_tool["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service", "tool_name"]]
    invocation = metrics.serialize_metric_set()
    metrics.clear_metrics()
    assert invocation["ToolCallFailures"] == [1.0]
    assert "tool_name" not in invocation
