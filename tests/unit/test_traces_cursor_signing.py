"""The trace list's cursor: HMAC-SHA256 over its fields and the listing it continues; the key per environment."""

import pytest
from pydantic import SecretStr

from agentmode.errors import AppError, ErrorCode
from agentmode.settings import Settings
from traces import cursor as cursors
from traces.cursor import Cursor

KEY = b"unit-test-key"
PROJECT, OTHER_PROJECT = "7d1f3c52-0d8e-4a8b-9d64-3f1c2b5a6e70", "5b0c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3"
FINGERPRINT = cursors.filters_fingerprint(PROJECT, None, None)
POSITION = Cursor(o="total_cost", d="asc", s=1_800_000_000_000_000_000, e=1_800_000_100_000_000_000, k="-2.5", t="a" * 32)


def rejected(text: str, fingerprint: str = FINGERPRINT, key: bytes = KEY) -> bool:
    try:
        cursors.verify(text, fingerprint, key)
    except AppError as error:
        return (error.code, error.details) == (ErrorCode.VALIDATION_ERROR, {"field": "cursor"})
    return False


def test_a_signed_cursor_verifies_as_the_same_position() -> None:
    assert cursors.verify(cursors.sign(POSITION, FINGERPRINT, KEY), FINGERPRINT, KEY) == POSITION


def test_changing_any_one_character_of_a_cursor_is_rejected() -> None:
    signed = cursors.sign(POSITION, FINGERPRINT, KEY)

    for index, character in enumerate(signed):
        replacement = "B" if character != "B" else "C"
        assert rejected(signed[:index] + replacement + signed[index + 1 :]), index


@pytest.mark.parametrize("cut", [1, 2, 43, 44])
def test_a_truncated_cursor_is_rejected(cut: int) -> None:
    assert rejected(cursors.sign(POSITION, FINGERPRINT, KEY)[:-cut])


@pytest.mark.parametrize("suffix", ["A", "=", "==", ".", "\n", "é", "\udc80"])
def test_a_cursor_with_anything_appended_is_rejected(suffix: str) -> None:
    assert rejected(cursors.sign(POSITION, FINGERPRINT, KEY) + suffix)


def test_a_cursor_signed_with_another_key_is_rejected() -> None:
    assert rejected(cursors.sign(POSITION, FINGERPRINT, b"another key"))


@pytest.mark.parametrize(
    ("project_id", "span_name", "query"),
    [
        (OTHER_PROJECT, "llm.call", "refund"),
        (PROJECT, "tool.call", "refund"),
        (PROJECT, None, "refund"),
        (PROJECT, "llm.call", "invoice"),
        (PROJECT, "llm.call", None),
    ],
)
def test_a_cursor_is_bound_to_its_project_and_filters(project_id: str, span_name: str | None, query: str | None) -> None:
    signed = cursors.sign(POSITION, cursors.filters_fingerprint(PROJECT, "llm.call", "refund"), KEY)

    assert rejected(signed, fingerprint=cursors.filters_fingerprint(project_id, span_name, query))


def test_the_mac_of_one_cursor_does_not_sign_another() -> None:
    first = cursors.sign(POSITION, FINGERPRINT, KEY)
    second = cursors.sign(POSITION.model_copy(update={"key": "0"}), FINGERPRINT, KEY)

    assert rejected(second.split(".")[0] + "." + first.split(".")[1])


def test_the_configured_secret_is_the_key() -> None:
    settings = Settings(environment="prod", traces_cursor_secret=SecretStr("configured"))

    assert cursors.signing_key(settings) == b"configured"


@pytest.mark.parametrize("environment", ["local", "test"])
def test_local_and_test_without_a_secret_use_the_local_key(environment: str) -> None:
    settings = Settings(environment=environment, traces_cursor_secret=SecretStr(""))

    assert cursors.signing_key(settings) == cursors.LOCAL_AND_TEST_ONLY_CURSOR_KEY


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_a_deployed_stage_without_a_secret_is_unavailable_not_unsigned(environment: str) -> None:
    settings = Settings(environment=environment, traces_cursor_secret=SecretStr(""))

    with pytest.raises(AppError) as raised:
        cursors.signing_key(settings)

    assert raised.value.code == ErrorCode.SERVICE_UNAVAILABLE
