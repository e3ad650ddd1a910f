"""Parameters fail fast: patterns refuse malformed values in every stage, and the Rules refuse a prod deploy that is
missing what prod cannot work without or still carries samconfig.toml's placeholders."""

import pytest

from tests.unit.template_model import PARAMETERS, allows, overrides, parameters, refusals, samconfig

CONFIGURED_PROD = {
    "Stage": "prod",
    "SecretsPrefix": "agentmode/prod",
    "SupabaseUrl": "https://abcdefghijklmnopqrst.supabase.co",
    "ClickHouseHost": "a1b2c3d4e5.us-east-1.aws.clickhouse.cloud",
    "StripeSubscriptionPriceId": "price_1MoBy5LkdIwHu7ixZhnattbh",
    "CorsAllowOrigins": "https://app.agentmode.ai,https://www.agentmode.ai",
}
# CloudWatch Logs' retention values (PutRetentionPolicy); any other number fails the deploy half-way, at the log group.
DAYS_UP_TO_A_YEAR = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365]
CLOUDWATCH_RETENTION_DAYS = [*DAYS_UP_TO_A_YEAR, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("StripeSubscriptionPriceId", ""),
        ("StripeSubscriptionPriceId", "price_1MoBy5LkdIwHu7ixZhnattbh"),
        ("ClickHouseHost", ""),
        ("ClickHouseHost", "a1b2c3d4e5.us-east-1.aws.clickhouse.cloud"),
        ("ClickHouseHost", "clickhouse-1.internal"),
        ("SupabaseUrl", "https://abcdefghijklmnopqrst.supabase.co"),
        ("SupabaseUrl", "https://supabase.example.org:8443"),
        ("SupabaseJwtIssuer", ""),
        ("SupabaseJwtIssuer", "https://abcdefghijklmnopqrst.supabase.co/auth/v1"),
        ("SecretsPrefix", "agentmode/prod"),
        ("AlarmEmail", ""),
        ("AlarmEmail", "oncall@agentmode.ai"),
        ("DomainName", ""),
        ("DomainName", "api.agentmode.ai"),
        ("CertificateArn", "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
        (
            "SecretsExtensionLayerArn",
            "arn:aws:lambda:eu-west-1:015030872274:layer:AWS-Parameters-and-Secrets-Lambda-Extension:11",
        ),
    ],
)
def test_well_formed_values_are_allowed(parameter: str, value: str) -> None:
    assert allows(parameter, value)


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("StripeSubscriptionPriceId", "prod_1MoBy5LkdIwHu7ix"),
        ("StripeSubscriptionPriceId", "price_"),
        ("StripeSubscriptionPriceId", " price_1MoBy5"),
        ("StripeSubscriptionPriceId", "price_1MoBy5 "),
        ("ClickHouseHost", "https://a1b2c3d4e5.us-east-1.aws.clickhouse.cloud"),
        ("ClickHouseHost", "a1b2c3d4e5.us-east-1.aws.clickhouse.cloud:8443"),
        ("ClickHouseHost", "a1b2c3d4e5.us-east-1.aws.clickhouse.cloud/"),
        ("ClickHouseHost", "-leading-dash.example.org"),
        ("SupabaseUrl", ""),
        ("SupabaseUrl", "http://abcdefghijklmnopqrst.supabase.co"),
        ("SupabaseUrl", "abcdefghijklmnopqrst.supabase.co"),
        ("SupabaseUrl", "https://abcdefghijklmnopqrst.supabase.co/auth/v1"),
        ("SupabaseJwtIssuer", "http://abcdefghijklmnopqrst.supabase.co/auth/v1"),
        ("SupabaseJwtIssuer", "abcdefghijklmnopqrst.supabase.co/auth/v1"),
        ("SecretsPrefix", "agentmode/prod/"),
        ("SecretsPrefix", "agentmode prod"),
        ("AlarmEmail", "oncall"),
        ("DomainName", "https://api.agentmode.ai"),
        ("CertificateArn", "arn:aws:iam::123456789012:server-certificate/api"),
        (
            "SecretsExtensionLayerArn",
            "arn:aws:lambda:eu-west-1:015030872274:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:11",
        ),
    ],
)
def test_malformed_values_are_refused_in_every_stage(parameter: str, value: str) -> None:
    assert not allows(parameter, value)


def test_a_configured_prod_deploy_passes_the_rules() -> None:
    assert refusals(parameters(**CONFIGURED_PROD)) == []


@pytest.mark.parametrize("parameter", ["StripeSubscriptionPriceId", "ClickHouseHost"])
def test_prod_refuses_an_empty(parameter: str) -> None:
    [refusal] = refusals(parameters(**CONFIGURED_PROD | {parameter: ""}))

    assert refusal.startswith(f"{parameter} is required in prod")


@pytest.mark.parametrize(
    ("parameter", "placeholder"),
    [
        ("SupabaseUrl", "https://YOUR-PROJECT.supabase.co"),
        ("SupabaseUrl", "https://YOUR-PROJECT.supabase.co/"),
        ("SupabaseJwtIssuer", "https://YOUR-PROJECT.supabase.co/auth/v1"),
        ("ClickHouseHost", "YOUR-SERVICE.us-east-1.aws.clickhouse.cloud"),
        ("StripeSubscriptionPriceId", "price_YOURPRICEID"),
        ("CorsAllowOrigins", "https://app.example.com"),
        ("CorsAllowOrigins", "https://app.agentmode.ai,https://app.example.com"),
        ("CorsAllowOrigins", "http://localhost:5173"),
    ],
)
def test_prod_refuses_a_placeholder(parameter: str, placeholder: str) -> None:
    [refusal] = refusals(parameters(**CONFIGURED_PROD | {parameter: placeholder}))

    assert refusal.startswith(parameter)


def test_the_issuer_may_stay_empty_in_prod() -> None:
    assert refusals(parameters(**CONFIGURED_PROD | {"SupabaseJwtIssuer": ""})) == []


@pytest.mark.parametrize("stage", ["dev", "staging"])
def test_other_stages_deploy_with_placeholders_and_empty_values(stage: str) -> None:
    placeholders = {"SupabaseUrl": "https://YOUR-PROJECT.supabase.co", "CorsAllowOrigins": "https://app.example.com"}

    assert refusals(parameters(Stage=stage, **placeholders)) == []


def test_samconfig_prod_is_refused_until_its_placeholders_are_replaced() -> None:
    refused = refusals(parameters(**overrides("prod")))

    assert sorted(r.split(" ", 1)[0] for r in refused) == [
        "ClickHouseHost",
        "CorsAllowOrigins",
        "StripeSubscriptionPriceId",
        "SupabaseUrl",
    ]


@pytest.mark.parametrize(("domain", "certificate"), [("api.agentmode.ai", ""), ("", "arn:aws:acm:us-east-1:1:certificate/x")])
def test_a_custom_domain_needs_its_certificate_and_the_reverse(domain: str, certificate: str) -> None:
    [refusal] = refusals(
        parameters(Stage="dev", SupabaseUrl="https://x.supabase.co", DomainName=domain, CertificateArn=certificate)
    )

    assert refusal.startswith("DomainName and CertificateArn go together")


@pytest.mark.parametrize(("config_env", "stage"), [("default", "dev"), ("staging", "staging"), ("prod", "prod")])
def test_each_samconfig_environment_deploys_its_own_stage_and_secrets(config_env: str, stage: str) -> None:
    config = samconfig()[config_env]
    values = overrides(config_env)

    assert config["global"]["parameters"]["stack_name"] == f"agentmode-{stage}"
    assert (values["Stage"], values["SecretsPrefix"]) == (stage, f"agentmode/{stage}")
    assert config["deploy"]["parameters"]["tags"] == f"project=agentmode stage={stage}"


@pytest.mark.parametrize("config_env", ["default", "staging", "prod"])
def test_samconfig_overrides_name_template_parameters_with_allowed_values(config_env: str) -> None:
    for name, value in overrides(config_env).items():
        parameter = PARAMETERS[name]
        if "AllowedPattern" in parameter:
            assert allows(name, value), name
        if "AllowedValues" in parameter:
            assert value in parameter["AllowedValues"], name


def test_log_retention_takes_only_what_cloudwatch_takes() -> None:
    retention = PARAMETERS["LogRetentionDays"]

    assert retention["AllowedValues"] == CLOUDWATCH_RETENTION_DAYS
    assert retention["Default"] in CLOUDWATCH_RETENTION_DAYS
