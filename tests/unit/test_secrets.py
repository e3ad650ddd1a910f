"""Secret settings at run time: read through the Parameters and Secrets Extension (a loopback stand-in), cached for
SECRETS_CACHE_SECONDS, read again after it, bridged over a failing extension by the cached value, else 503."""

import subprocess
import sys
from collections.abc import Iterator
from typing import get_args

import pytest
from pydantic import SecretStr

from agentmode import runtime_secrets
from agentmode.errors import AppError
from agentmode.runtime_secrets import (
    STALE_GRACE_SECONDS,
    SecretCache,
    SecretName,
    is_configured,
    read_from_extension,
    secret_value,
)
from agentmode.settings import Settings
from local.stack import ROOT
from tests.log_capture import LogOutput
from tests.secrets_extension_stub import SecretsExtensionStub
from tests.unit.template_model import FUNCTIONS, environment

# "+" is allowed in secret names and means a space in a query string unless encoded.
SECRET_ID = "agentmode/test+blue/STRIPE_SECRET_KEY"
FIRST = "sk_live_first-value-of-the-key"
ROTATED = "sk_live_rotated-value-of-the-key"
AGE = 300.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def extension(monkeypatch: pytest.MonkeyPatch) -> Iterator[SecretsExtensionStub]:
    stub = SecretsExtensionStub()
    stub.put(SECRET_ID, FIRST)
    for name, value in stub.environment.items():
        monkeypatch.setenv(name, value)
    yield stub
    stub.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> SecretCache:
    return SecretCache(clock=clock)


def read(cache: SecretCache) -> str:
    return cache.get("STRIPE_SECRET_KEY", SECRET_ID, AGE)


def test_a_secret_is_read_with_the_session_token_and_its_id_url_encoded(extension: SecretsExtensionStub) -> None:
    assert read_from_extension(SECRET_ID) == FIRST

    [request] = extension.requests
    assert request["path"] == "/secretsmanager/get"
    assert request["query"] == {"secretId": SECRET_ID}
    assert request["headers"]["x-aws-parameters-secrets-token"] == extension.session_token


def test_reads_within_the_cache_age_ask_the_extension_once(
    extension: SecretsExtensionStub, cache: SecretCache, clock: Clock
) -> None:
    values = []
    for _ in range(20):
        values.append(read(cache))
        clock.now += AGE / 40

    assert values == [FIRST] * 20
    assert extension.reads_of(SECRET_ID) == 1


def test_a_rotated_value_is_used_once_the_cache_age_has_passed(
    extension: SecretsExtensionStub, cache: SecretCache, clock: Clock
) -> None:
    assert read(cache) == FIRST
    extension.put(SECRET_ID, ROTATED)

    clock.now += AGE - 1
    before = read(cache)
    clock.now += 1
    after = read(cache)

    assert (before, after) == (FIRST, ROTATED)
    assert extension.reads_of(SECRET_ID) == 2


def test_extension_down_with_nothing_cached_is_503_naming_the_setting_in_the_log(
    extension: SecretsExtensionStub, cache: SecretCache, logs: LogOutput
) -> None:
    extension.close()

    with pytest.raises(AppError) as raised:
        read(cache)

    assert (raised.value.code.name, raised.value.details) == (
        "SERVICE_UNAVAILABLE",
        {"service": "secrets", "reason": "extension unreachable", "retry_after_ms": 1000},
    )
    [line] = logs.lines("secret unavailable")
    assert (line["level"], line["setting"], line["secret_id"]) == ("ERROR", "STRIPE_SECRET_KEY", SECRET_ID)


def test_extension_down_with_a_cached_value_serves_it_with_a_warning(
    extension: SecretsExtensionStub, cache: SecretCache, clock: Clock, logs: LogOutput
) -> None:
    read(cache)
    extension.close()
    clock.now += AGE + 60

    assert read(cache) == FIRST
    [line] = logs.lines("secret read failed: serving the cached value")
    assert (line["level"], line["setting"], line["reason"], line["age_seconds"]) == (
        "WARNING", "STRIPE_SECRET_KEY", "extension unreachable", AGE + 60,
    )  # fmt: skip


def test_while_serving_a_cached_value_a_failed_read_is_retried_only_now_and_then(
    extension: SecretsExtensionStub, cache: SecretCache, clock: Clock
) -> None:
    read(cache)
    clock.now += AGE
    extension.secrets.clear()

    for _ in range(5):
        assert read(cache) == FIRST
        clock.now += 1
    extension.put(SECRET_ID, ROTATED)
    clock.now += runtime_secrets.RETRY_AFTER_FAILURE_SECONDS

    assert read(cache) == ROTATED
    assert extension.reads_of(SECRET_ID) == 3


def test_a_cached_value_is_not_served_past_the_hard_limit(
    extension: SecretsExtensionStub, cache: SecretCache, clock: Clock
) -> None:
    read(cache)
    extension.close()
    clock.now += AGE + STALE_GRACE_SECONDS

    with pytest.raises(AppError) as raised:
        read(cache)

    assert raised.value.details["service"] == "secrets"


def test_a_wrong_session_token_is_refused_by_the_extension_and_answers_503(
    extension: SecretsExtensionStub, cache: SecretCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", "another-token")

    with pytest.raises(AppError) as raised:
        read(cache)

    assert raised.value.details["reason"] == "extension answered 401"


def test_an_unknown_secret_answers_503_with_the_extensions_status(extension: SecretsExtensionStub, cache: SecretCache) -> None:
    with pytest.raises(AppError) as raised:
        cache.get("STRIPE_SECRET_KEY", "agentmode/test/NOT_CREATED", AGE)

    assert raised.value.details["reason"] == "extension answered 400"


def test_no_value_ever_reaches_the_logs(
    extension: SecretsExtensionStub, cache: SecretCache, clock: Clock, logs: LogOutput
) -> None:
    read(cache)
    extension.put(SECRET_ID, ROTATED)
    clock.now += AGE
    read(cache)
    extension.close()
    clock.now += AGE
    read(cache)
    clock.now += AGE + STALE_GRACE_SECONDS
    with pytest.raises(AppError):
        read(cache)

    assert logs.lines("secret read failed: serving the cached value")
    assert logs.lines("secret unavailable")
    assert FIRST not in logs.text()
    assert ROTATED not in logs.text()
    assert "first-value" not in logs.text()


def test_the_settings_own_variable_wins_over_its_secret(extension: SecretsExtensionStub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY_SECRET_ID", SECRET_ID)

    assert secret_value("stripe_secret_key", Settings(stripe_secret_key=SecretStr("sk_test_plain"))) == "sk_test_plain"
    assert extension.requests == []


def test_an_empty_own_variable_leaves_the_secret_in_charge(
    extension: SecretsExtensionStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY_SECRET_ID", SECRET_ID)
    runtime_secrets.forget_secrets()

    assert secret_value("stripe_secret_key", Settings(stripe_secret_key=SecretStr(""))) == FIRST
    runtime_secrets.forget_secrets()


def test_with_neither_the_setting_is_its_default_and_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRIPE_SECRET_KEY_SECRET_ID", raising=False)
    monkeypatch.delenv("DATABASE_URL_SECRET_ID", raising=False)
    monkeypatch.delenv("DATABASE_URL")
    settings = Settings()

    assert (secret_value("stripe_secret_key", settings), is_configured("stripe_secret_key", settings)) == ("", False)
    assert (secret_value("database_url", settings), is_configured("database_url", settings)) == (
        "postgresql://postgres@localhost:5432/postgres", False,
    )  # fmt: skip


def test_every_secret_setting_can_be_read_at_run_time() -> None:
    secret_fields = {name for name, field in Settings.model_fields.items() if field.annotation is SecretStr}

    assert set(get_args(SecretName)) == secret_fields


def test_a_read_waits_no_longer_than_the_template_budgets_per_secret() -> None:
    budgets = {float(environment(function)["SECRETS_MANAGER_TIMEOUT_MILLIS"]) / 1000 for function in FUNCTIONS}

    assert budgets == {runtime_secrets.FETCH_TIMEOUT_SECONDS}


def test_nothing_is_read_when_a_function_is_imported(extension: SecretsExtensionStub) -> None:
    extension.put("agentmode/test/DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    env = {
        **extension.environment,
        "DATABASE_URL_SECRET_ID": "agentmode/test/DATABASE_URL",
        "SUPABASE_JWT_SECRET_SECRET_ID": "agentmode/test/DATABASE_URL",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "PYTHONPATH": f"{ROOT / 'functions' / 'agent_status'}:{ROOT / 'layers' / 'common'}",
    }

    done = subprocess.run([sys.executable, "-c", "import app"], env=env, capture_output=True, text=True, check=False)

    assert done.returncode == 0, done.stderr
    assert extension.requests == []
