"""template.yaml declares seed 001 §10's alerts (and throttles, dead letters), each notifying the alarm topic."""

from typing import Any

import pytest

from local.template_routes import load_template

RESOURCES: dict[str, Any] = load_template()["Resources"]
ALARMS = {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def expression_of(alarm: dict[str, Any]) -> str:
    [returned] = [m for m in alarm["Metrics"] if m.get("ReturnData")]
    return str(returned["Expression"])


def metric_names(alarm: dict[str, Any]) -> set[str]:
    if "MetricName" in alarm:
        return {alarm["MetricName"]}
    return {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}


@pytest.mark.parametrize(
    ("alarm", "threshold", "metrics"),
    [
        ("AgentRunErrorRateAlarm", 5, {"AgentRunsFailed", "AgentRunsSucceeded"}),
        ("ApiErrorRateAlarm", 5, {"5xx", "Count"}),
        ("AgentRunDurationAlarm", 600, {"AgentRunDuration"}),
        ("ToolFailureRateAlarm", 10, {"ToolCallFailures", "ToolCalls"}),
        ("ThrottlesAlarm", 0, {"Throttles"}),
        ("DeadLetterQueueAlarm", 0, {"ApproximateNumberOfMessagesVisible"}),
    ],
)
def test_each_alert_watches_its_figure_at_its_threshold(alarm: str, threshold: float, metrics: set[str]) -> None:
    properties = ALARMS[alarm]

    assert properties["Threshold"] == threshold
    assert properties["ComparisonOperator"] == "GreaterThanThreshold"
    assert metric_names(properties) == metrics


def test_rates_are_percentages_of_their_counts() -> None:
    assert expression_of(ALARMS["AgentRunErrorRateAlarm"]) == "100 * failed / (failed + succeeded)"
    assert expression_of(ALARMS["ToolFailureRateAlarm"]) == "100 * failures / calls"


def test_throttles_cover_every_function() -> None:
    functions = {name for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
    watched = {
        m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"]
        for m in ALARMS["ThrottlesAlarm"]["Metrics"]
        if "MetricStat" in m
    }

    assert watched == functions


def test_every_alarm_notifies_the_alarm_topic() -> None:
    for name, properties in ALARMS.items():
        assert properties["AlarmActions"] == [{"If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}], name
