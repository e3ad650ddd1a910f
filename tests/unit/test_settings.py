"""Settings from the environment: each setting's variable, in any case, as text the setting's type and bounds check;
a value given in code wins; variables naming no setting are ignored."""

import pytest
from pydantic import SecretStr, ValidationError

from agentmode.settings import Settings


def test_a_setting_is_read_from_its_variable_in_upper_or_lower_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", "750")
    monkeypatch.setenv("credits_per_video", "3")

    settings = Settings()

    assert (settings.db_statement_timeout_ms, settings.credits_per_video) == (750, 3)


def test_a_variable_holds_text_that_becomes_the_settings_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG", "true")
    monkeypatch.setenv("EMBEDDINGS_TIMEOUT_SECONDS", "2.5")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")

    settings = Settings()

    assert (settings.debug, settings.embeddings_timeout_seconds) == (True, 2.5)
    assert settings.openai_api_key == SecretStr("sk-from-the-environment")


def test_an_unset_variable_leaves_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JWT_AUDIENCE", raising=False)

    assert Settings().jwt_audience == "authenticated"


def test_an_empty_variable_is_a_value_not_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_URL", "")

    assert Settings().app_url == ""


def test_a_value_given_in_code_wins_over_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVITE_EXPIRY_DAYS", "3")

    assert Settings(invite_expiry_days=5).invite_expiry_days == 5


def test_a_value_given_in_code_may_name_the_setting_in_upper_case() -> None:
    assert Settings(INVITE_EXPIRY_DAYS=4).invite_expiry_days == 4


@pytest.mark.parametrize(
    ("variable", "value"),
    [("DB_CONNECT_TIMEOUT_SECONDS", "0"), ("ENVIRONMENT", "qa"), ("DEBUG", ""), ("CLICKHOUSE_PORT", "eighty")],
)
def test_a_variable_outside_the_settings_rule_is_refused(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ValidationError):
        Settings()


def test_variables_that_name_no_setting_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTMODE_NOT_A_SETTING", "anything")

    assert "agentmode_not_a_setting" not in Settings().model_dump()


def test_only_settings_given_by_a_variable_or_in_code_count_as_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """agentmode.runtime_secrets reads a secret's own variable only when it was given (model_fields_set)."""
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_from_the_environment")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    fields_set = Settings(stripe_api_base="http://localhost:12111").model_fields_set

    assert {"stripe_secret_key", "stripe_api_base"} <= fields_set
    assert "openai_api_key" not in fields_set
