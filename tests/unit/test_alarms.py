"""template.yaml declares seed 001 §10's alerts (and throttles, dead letters, queue age, each function's errors),
reading the stage's own metrics, judging rates only with enough events, and notifying the alarm topic when they fire
and when they clear."""

from typing import Any

import pytest

from tests.unit.template_model import (
    ALARMS,
    FUNCTION_GLOBALS,
    FUNCTIONS,
    RESOURCES,
    condition,
    metric_math,
    parameter_defaults,
    parameters,
    substitute,
)

TOPIC = [{"If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}]
STAGE_NAMESPACE = {"Sub": "AgentMode/${Stage}"}
RATE_ALARMS = ["AgentRunErrorRateAlarm", "ApiErrorRateAlarm", "ApiErrorRateRollbackAlarm", "ToolFailureRateAlarm"]


def expression_of(alarm: dict[str, Any]) -> str:
    """The returned metric math, with template parameters at their defaults."""
    [returned] = [m for m in alarm["Metrics"] if m.get("ReturnData")]
    expression = returned["Expression"]
    return substitute(expression["Sub"], parameter_defaults()) if isinstance(expression, dict) else str(expression)


def metric_names(alarm: dict[str, Any]) -> set[str]:
    if "MetricName" in alarm:
        return {alarm["MetricName"]}
    return {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}


def namespaces(alarm: dict[str, Any]) -> list[Any]:
    if "Namespace" in alarm:
        return [alarm["Namespace"]]
    return [m["MetricStat"]["Metric"]["Namespace"] for m in alarm["Metrics"] if "MetricStat" in m]


@pytest.mark.parametrize(
    ("alarm", "threshold", "metrics"),
    [
        ("AgentRunErrorRateAlarm", 5, {"AgentRunsFailed", "AgentRunsSucceeded"}),
        ("ApiErrorRateAlarm", 5, {"5xx", "Count"}),
        ("ApiErrorRateRollbackAlarm", 5, {"5xx", "Count"}),
        ("AgentRunDurationAlarm", 600, {"AgentRunDuration"}),
        ("ToolFailureRateAlarm", 10, {"ToolCallFailures", "ToolCalls"}),
        ("ThrottlesAlarm", 0, {"Throttles"}),
        ("DeadLetterQueueAlarm", 0, {"ApproximateNumberOfMessagesVisible"}),
        ("AgentQueueAgeAlarm", 1800, {"ApproximateAgeOfOldestMessage"}),
    ],
)
def test_each_alert_watches_its_figure_at_its_threshold(alarm: str, threshold: float, metrics: set[str]) -> None:
    properties = ALARMS[alarm]

    assert properties["Threshold"] == threshold
    assert properties["ComparisonOperator"] == "GreaterThanThreshold"
    assert metric_names(properties) == metrics


def test_the_functions_and_the_alarms_use_the_stages_own_namespace() -> None:
    own = [ns for alarm in ALARMS.values() for ns in namespaces(alarm) if not str(ns).startswith("AWS/")]

    assert FUNCTION_GLOBALS["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == STAGE_NAMESPACE
    assert own
    assert all(ns == STAGE_NAMESPACE for ns in own)


@pytest.mark.parametrize(
    ("alarm", "series", "rate"),
    [
        ("AgentRunErrorRateAlarm", {"failed": 19, "succeeded": 0}, 0),
        ("AgentRunErrorRateAlarm", {"failed": 2, "succeeded": 18}, 10),
        ("ToolFailureRateAlarm", {"failures": 19, "calls": 19}, 0),
        ("ToolFailureRateAlarm", {"failures": 3, "calls": 20}, 15),
        ("ApiErrorRateAlarm", {"errors": 1, "requests": 1}, 0),
        ("ApiErrorRateAlarm", {"errors": 5, "requests": 50}, 10),
        ("ApiErrorRateRollbackAlarm", {"errors": 19, "requests": 19}, 0),
        ("ApiErrorRateRollbackAlarm", {"errors": 2, "requests": 20}, 10),
    ],
)
def test_a_rate_is_a_percentage_judged_only_with_enough_events(alarm: str, series: dict[str, float], rate: float) -> None:
    assert parameter_defaults()["AlarmMinEvents"] == "20"
    assert metric_math(expression_of(ALARMS[alarm]), series) == pytest.approx(rate)


@pytest.mark.parametrize(("runs", "average"), [(4, 0), (5, 900)])
def test_the_run_duration_is_judged_over_at_least_five_runs(runs: int, average: float) -> None:
    assert metric_math(expression_of(ALARMS["AgentRunDurationAlarm"]), {"duration": 900, "runs": runs}) == average


@pytest.mark.parametrize("alarm", [*RATE_ALARMS, "ThrottlesAlarm", "AgentQueueAgeAlarm"])
def test_rates_throttles_and_queue_age_fire_on_2_of_3_periods(alarm: str) -> None:
    assert (ALARMS[alarm]["DatapointsToAlarm"], ALARMS[alarm]["EvaluationPeriods"]) == (2, 3)


def test_throttles_cover_every_function() -> None:
    watched = {
        m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"]
        for m in ALARMS["ThrottlesAlarm"]["Metrics"]
        if "MetricStat" in m
    }

    assert watched == set(FUNCTIONS)


def test_every_function_has_an_errors_alarm() -> None:
    assert {name for name in ALARMS if name.endswith("ErrorsAlarm")} == {
        f.removesuffix("Function") + "ErrorsAlarm" for f in FUNCTIONS
    }


def test_the_queue_age_alarm_fires_after_a_held_run_and_long_before_expiry() -> None:
    queue = RESOURCES["AgentQueue"]["Properties"]
    alarm = ALARMS["AgentQueueAgeAlarm"]

    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"GetAtt": "AgentQueue.QueueName"}}]
    assert queue["VisibilityTimeout"] < alarm["Threshold"] < queue["MessageRetentionPeriod"] / 10


@pytest.mark.parametrize("alarm", sorted(ALARMS))
def test_every_alarm_notifies_the_alarm_topic_when_it_fires_and_when_it_clears(alarm: str) -> None:
    assert ALARMS[alarm]["AlarmActions"] == TOPIC
    assert ALARMS[alarm]["OKActions"] == TOPIC


def test_an_email_is_subscribed_only_when_given() -> None:
    subscription = RESOURCES["AlarmEmailSubscription"]

    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["TopicArn"] == TOPIC[0]
    assert not condition("HasAlarmEmail", parameters())
    assert condition("HasAlarmEmail", parameters(AlarmEmail="oncall@agentmode.ai"))


def test_the_created_topic_is_encrypted_with_a_key_cloudwatch_may_use() -> None:
    key = RESOURCES["AlarmTopicKey"]
    [cloudwatch] = [
        s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]

    assert RESOURCES["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    assert key["Condition"] == RESOURCES["AlarmTopic"]["Condition"] == "CreateAlarmTopic"
    assert key["Properties"]["EnableKeyRotation"] is True
    assert (cloudwatch["Effect"], set(cloudwatch["Action"])) == ("Allow", {"kms:Decrypt", "kms:GenerateDataKey*"})
