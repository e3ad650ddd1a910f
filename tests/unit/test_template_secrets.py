"""Secrets are read at run time: no value and no deploy-time reference in the template, one secret per setting named
<SecretsPrefix>/<SETTING_NAME>, and each function allowed to read exactly the secrets its code uses, through the
AWS Parameters and Secrets Lambda Extension."""

import re
from typing import Any

import pytest

from local.stack import ROOT
from tests.unit.code_secrets import SECRET_FIELDS, secrets_read_by
from tests.unit.template_model import (
    FUNCTION_GLOBALS,
    FUNCTIONS,
    PARAMETERS,
    SECRET_ID_SUFFIX,
    environment,
    layers,
    secret_settings,
)

SECRET_NAMES = {field.upper() for field in SECRET_FIELDS}
SECRET_ARN = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretsPrefix}/%s-??????"


def secret_grants(function: str) -> list[Any]:
    """Every Resource of the function's policy statements that allow secretsmanager:GetSecretValue."""
    statements = [s for policy in FUNCTIONS[function].get("Policies", []) if "Statement" in policy for s in policy["Statement"]]
    return [
        resource
        for s in statements
        if "secretsmanager:GetSecretValue" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        for resource in s["Resource"]
    ]


def test_no_template_text_holds_a_dynamic_reference() -> None:
    assert "resolve:secretsmanager" not in (ROOT / "template.yaml").read_text()
    assert "SecretsName" not in PARAMETERS


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_no_function_environment_holds_a_secret(function: str) -> None:
    variables = environment(function)

    assert SECRET_NAMES.isdisjoint(variables)
    assert not [value for value in variables.values() if "resolve:" in str(value)]


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_secret_id_names_one_setting_under_the_stage_prefix(function: str) -> None:
    ids = {name: value for name, value in environment(function).items() if name.endswith(SECRET_ID_SUFFIX)}

    assert ids
    assert ids == {
        f"{setting}{SECRET_ID_SUFFIX}": {"Sub": f"${{SecretsPrefix}}/{setting}"} for setting in secret_settings(function)
    }
    assert secret_settings(function) <= SECRET_NAMES


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_function_reads_exactly_the_secrets_its_code_uses(function: str) -> None:
    used = secrets_read_by(ROOT / FUNCTIONS[function]["CodeUri"])
    if environment(function).get("EMBEDDINGS_PROVIDER") != "openai":
        used.discard("OPENAI_API_KEY")  # read only by the openai embeddings provider

    assert secret_settings(function) == used


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_function_may_get_exactly_the_secrets_its_environment_names(function: str) -> None:
    granted = sorted(str(resource["Sub"]) for resource in secret_grants(function))

    assert granted
    assert granted == sorted(SECRET_ARN % setting for setting in secret_settings(function))


def test_the_webhook_gets_no_user_secrets_and_only_invites_get_the_service_role_key() -> None:
    assert secret_settings("StripeWebhookFunction") == {"DATABASE_URL", "STRIPE_WEBHOOK_SECRET", "STRIPE_SECRET_KEY"}
    assert [f for f in FUNCTIONS if "SUPABASE_SERVICE_ROLE_KEY" in secret_settings(f)] == ["OpsboardOrgsFunction"]


def test_a_grant_matches_its_secret_and_no_other() -> None:
    """Secrets Manager appends 6 random characters to a secret's ARN: `-??????` matches them, and no longer name."""
    pattern = re.escape(SECRET_ARN % "DATABASE_URL").replace(r"\?", ".")
    prefix = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretsPrefix}/"

    assert re.fullmatch(pattern, f"{prefix}DATABASE_URL-a1B2c3")
    assert not re.fullmatch(pattern, f"{prefix}DATABASE_URL_READONLY-a1B2c3")
    assert not re.fullmatch(pattern, f"{prefix}DATABASE_URL-OLD-a1B2c3")


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_functions_that_read_secrets_run_the_extension_the_reader_asks(function: str) -> None:
    variables = environment(function)

    assert secret_settings(function)
    assert {"Ref": "SecretsExtensionLayerArn"} in layers(function)
    assert variables["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"] == "2773"
    assert variables["SECRETS_CACHE_SECONDS"] == {"Ref": "SecretsCacheSeconds"}


def test_a_rotated_secret_is_in_use_within_the_readers_cache_age() -> None:
    """The extension keeps no cache of its own (TTL 0): the reader's SECRETS_CACHE_SECONDS is the whole delay."""
    variables = FUNCTION_GLOBALS["Environment"]["Variables"]

    assert variables["SECRETS_MANAGER_TTL"] == "0"
    assert PARAMETERS["SecretsCacheSeconds"]["Default"] == 300


def test_the_default_extension_layer_is_us_east_1_for_the_functions_architecture() -> None:
    default = PARAMETERS["SecretsExtensionLayerArn"]["Default"]

    assert FUNCTION_GLOBALS["Architectures"] == ["x86_64"]
    assert re.fullmatch(r"arn:aws:lambda:us-east-1:177933569100:layer:AWS-Parameters-and-Secrets-Lambda-Extension:\d+", default)
