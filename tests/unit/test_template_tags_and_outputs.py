"""Every resource is tagged with its project and stage, and the stack's outputs name what operators and the workers
need: the API URL, the queues, the dead-letter queue and each function."""

import pytest

from tests.unit.template_model import FUNCTIONS, TEMPLATE, samconfig

TAGS = {"project": "agentmode", "stage": {"Ref": "Stage"}}


@pytest.mark.parametrize("kind", ["Function", "HttpApi"])
def test_serverless_resources_and_what_they_generate_carry_project_and_stage(kind: str) -> None:
    globals_ = TEMPLATE["Globals"][kind]

    assert globals_["Tags"] == TAGS
    assert globals_["PropagateTags"] is True


@pytest.mark.parametrize("config_env", ["default", "staging", "prod"])
def test_each_deploy_tags_the_whole_stack(config_env: str) -> None:
    tags = dict(pair.split("=") for pair in samconfig()[config_env]["deploy"]["parameters"]["tags"].split())

    assert set(tags) == set(TAGS)


def test_outputs_name_the_api_the_queues_and_every_function() -> None:
    outputs = {name: output["Value"] for name, output in TEMPLATE["Outputs"].items()}

    assert {"ApiUrl", "ExecuteApiUrl", "AlarmTopic"} <= set(outputs)
    assert outputs["AgentQueueUrl"] == {"Ref": "AgentQueue"}
    assert outputs["AgentQueueArn"] == {"GetAtt": "AgentQueue.Arn"}
    assert outputs["AgentDeadLetterQueueUrl"] == {"Ref": "AgentDeadLetterQueue"}
    assert outputs["AgentDeadLetterQueueArn"] == {"GetAtt": "AgentDeadLetterQueue.Arn"}
    for function in FUNCTIONS:
        assert outputs[f"{function}Name"] == {"Ref": function}
