"""Safe rollout: every function is invoked through its `live` alias; prod shifts 10% of the traffic to a new version
for 5 minutes and rolls it back on the API's 5xx rate or the version's own errors; dev and staging switch at once."""

import pytest

from tests.unit.template_model import ALARMS, FUNCTION_GLOBALS, FUNCTIONS, RESOURCES, evaluate, parameters

CANARY_SECONDS = 300
STAGES = {"dev": "AllAtOnce", "staging": "AllAtOnce", "prod": "Canary10Percent5Minutes"}


def values(stage: str) -> dict[str, str | list[str]]:
    return parameters(Stage=stage, SupabaseUrl="https://abcdefghijklmnopqrst.supabase.co")


def rollback_alarms(function: str, stage: str) -> list[str]:
    return [alarm["Ref"] for alarm in evaluate(FUNCTIONS[function]["DeploymentPreference"]["Alarms"], values(stage))]


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_change_to_a_function_or_the_layer_publishes_a_version_behind_live(function: str) -> None:
    assert FUNCTION_GLOBALS["AutoPublishAlias"] == "live"
    assert FUNCTIONS[function]["AutoPublishAliasAllProperties"] is True
    assert RESOURCES["CommonLayer"]["Properties"]["PublishLambdaVersion"] is True


@pytest.mark.parametrize(("stage", "deployment"), sorted(STAGES.items()))
def test_prod_shifts_traffic_as_a_canary_and_the_other_stages_at_once(stage: str, deployment: str) -> None:
    assert evaluate(FUNCTION_GLOBALS["DeploymentPreference"]["Type"], values(stage)) == deployment


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_in_prod_each_function_rolls_back_on_the_api_5xx_rate_and_its_own_errors(function: str) -> None:
    own = function.removesuffix("Function") + "ErrorsAlarm"

    assert rollback_alarms(function, "prod") == ["ApiErrorRateRollbackAlarm", own]
    assert rollback_alarms(function, "dev") == []


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_errors_alarm_watches_the_version_being_deployed(function: str) -> None:
    alarm = ALARMS[function.removesuffix("Function") + "ErrorsAlarm"]

    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", "Errors")
    assert alarm["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": function}},
        {"Name": "Resource", "Value": {"Sub": f"${{{function}}}:live"}},
        {"Name": "ExecutedVersion", "Value": {"GetAtt": f"{function}.Version.Version"}},
    ]


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_rollback_alarms_can_fire_before_the_canary_ends(function: str) -> None:
    for name in rollback_alarms(function, "prod"):
        alarm = ALARMS[name]
        period = alarm.get("Period") or {m["MetricStat"]["Period"] for m in alarm["Metrics"] if "MetricStat" in m}.pop()
        assert period * alarm["DatapointsToAlarm"] < CANARY_SECONDS, name
