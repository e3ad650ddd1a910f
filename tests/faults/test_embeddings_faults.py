"""Embeddings provider throttling, slow or hung: 429 TOOL_RATE_LIMIT (with retry_after_ms) or 504 TOOL_TIMEOUT, on
both memory routes, with nothing written and no quota spent.

Already covered in tests/functional/test_embedding_providers.py, on the write route with a stubbed client:
test_bedrock_throttling_is_tool_rate_limit_and_writes_nothing, test_bedrock_model_timeout_is_tool_timeout,
test_bedrock_read_timeout_is_tool_timeout (its own 1-attempt client), test_openai_429_is_tool_rate_limit_with_its_retry_after,
test_openai_slow_answer_is_tool_timeout, test_openai_server_error_is_503. Here: the read route, the Retry-After header,
the quotas, the answer time, and Bedrock through the client the function really builds (its timeouts and retries).
"""

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from agentmode.settings import Settings
from tests.factories import User
from tests.faults.conftest import Configure
from tests.faults.stubs import BlackHole, Reply, ScriptedServer, json_reply
from tests.faults.support import assert_error, assert_retryable, count, lambda_timeout, rate_limit_hits, timed
from tests.http_stub import openai_embeddings
from tests.lambda_invoke import Result, invoke

EMBEDDINGS_TIMEOUT = 0.3
VECTOR = [0.03] * 1024
RATE_LIMITED = json_reply({"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}}, 429, {"retry-after": "7"})
MEMORY_ROUTES = ["/agent/write-memory", "/agent/read-memory"]


class Provider(ScriptedServer):
    def __init__(self) -> None:
        self.reply = json_reply(openai_embeddings(VECTOR))
        super().__init__(lambda request, index: self.reply)


@pytest.fixture
def provider(configure: Configure) -> Iterator[Provider]:
    server = Provider()
    configure(
        EMBEDDINGS_PROVIDER="openai",
        OPENAI_BASE_URL=server.url,
        OPENAI_API_KEY="sk-faults",
        EMBEDDINGS_TIMEOUT_SECONDS=str(EMBEDDINGS_TIMEOUT),
    )
    yield server
    server.close()


def call(user: User, path: str) -> Result:
    if path == "/agent/write-memory":
        return invoke(
            "POST", path, headers=user.auth, json_body={"content": "Prefers calm voice-overs.", "memory_type": "preference"}
        )
    return invoke("GET", path, headers=user.auth, query={"query": "voice-over tone"})


def assert_nothing_spent(admin: psycopg.Connection[Any], user: User) -> None:
    assert (
        count(admin, "SELECT count(*) FROM agentmode.agent_memory WHERE user_id = %s AND memory_type = 'preference'", user.id)
        == 0
    )
    assert rate_limit_hits(admin, user.id, "memory_write") == 0
    assert rate_limit_hits(admin, user.id, "memory_read") == 0


@pytest.mark.parametrize("path", MEMORY_ROUTES)
def test_throttled_provider_is_429_tool_rate_limit_with_its_retry_after(
    path: str, admin: psycopg.Connection[Any], user: User, provider: Provider
) -> None:
    provider.reply = RATE_LIMITED
    result = call(user, path)
    details = assert_retryable(result, 429, "TOOL_RATE_LIMIT")
    assert (details["retry_after_ms"], details["tool_name"]) == (7000, "embeddings:openai")
    assert_nothing_spent(admin, user)


@pytest.mark.parametrize("path", MEMORY_ROUTES)
def test_slow_provider_is_504_tool_timeout_at_its_timeout(
    path: str, admin: psycopg.Connection[Any], user: User, provider: Provider
) -> None:
    provider.reply = json_reply(openai_embeddings(VECTOR), delay_seconds=EMBEDDINGS_TIMEOUT + 1.0)
    result, elapsed = timed(lambda: call(user, path))
    assert assert_error(result, 504, "TOOL_TIMEOUT")["tool_name"] == "embeddings:openai"
    assert EMBEDDINGS_TIMEOUT <= elapsed < EMBEDDINGS_TIMEOUT + 1.0
    assert_nothing_spent(admin, user)


@pytest.mark.parametrize("path", MEMORY_ROUTES)
def test_provider_5xx_is_503_and_spends_nothing(
    path: str, admin: psycopg.Connection[Any], user: User, provider: Provider
) -> None:
    provider.reply = json_reply({"error": {"message": "overloaded"}}, 500)
    assert_retryable(call(user, path), 503, "SERVICE_UNAVAILABLE")
    assert_nothing_spent(admin, user)


def test_provider_back_after_throttling_stores_the_memory_once(
    admin: psycopg.Connection[Any], user: User, provider: Provider
) -> None:
    provider.reply = RATE_LIMITED
    assert call(user, "/agent/write-memory").status == 429
    provider.reply = json_reply(openai_embeddings(VECTOR))
    assert call(user, "/agent/write-memory").status == 201
    assert (
        count(admin, "SELECT count(*) FROM agentmode.agent_memory WHERE user_id = %s AND memory_type = 'preference'", user.id)
        == 1
    )
    assert rate_limit_hits(admin, user.id, "memory_write") == 1


def bedrock(configure: Configure, url: str, timeout: float) -> None:
    configure(EMBEDDINGS_PROVIDER="bedrock", AWS_ENDPOINT_URL_BEDROCK_RUNTIME=url, EMBEDDINGS_TIMEOUT_SECONDS=str(timeout))


def test_bedrock_throttling_through_the_real_client_is_429_with_retry_after(
    admin: psycopg.Connection[Any], user: User, configure: Configure, aws: None
) -> None:
    throttled = Reply(
        429, b'{"message":"Too many requests, please wait before trying again."}', {"x-amzn-ErrorType": "ThrottlingException"}
    )
    server = ScriptedServer(lambda request, index: throttled)
    bedrock(configure, server.url, 1.0)
    try:
        result, elapsed = timed(lambda: call(user, "/agent/write-memory"))
    finally:
        server.close()
    assert assert_retryable(result, 429, "TOOL_RATE_LIMIT")["tool_name"] == "embeddings:bedrock"
    assert elapsed < lambda_timeout("POST", "/agent/write-memory") / 2
    assert_nothing_spent(admin, user)


def test_hung_bedrock_is_504_inside_the_function_timeout_at_the_default_settings(
    admin: psycopg.Connection[Any], user: User, configure: Configure, aws: None
) -> None:
    timeout = 0.5
    hole = BlackHole()
    bedrock(configure, hole.url, timeout)
    try:
        result, elapsed = timed(lambda: call(user, "/agent/write-memory"))
    finally:
        hole.close()
    assert assert_error(result, 504, "TOOL_TIMEOUT")["tool_name"] == "embeddings:bedrock"
    assert_nothing_spent(admin, user)
    # The same hang at the deployed timeout: every attempt waits the full timeout.
    attempts = hole.accepted
    assert elapsed < attempts * timeout + 1.5
    assert attempts * Settings.model_fields["embeddings_timeout_seconds"].default < 0.8 * lambda_timeout(
        "POST", "/agent/write-memory"
    )
