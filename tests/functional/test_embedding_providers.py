"""Each embeddings provider's request/response, throttling and timeouts, and that a provider failure writes nothing.

Bedrock: the function's own client (agentmode.aws_api) against a loopback server giving InvokeModel's documented
replies and errors, and answering too slowly. OpenAI-compatible: a loopback server speaking `POST /v1/embeddings`.
"""

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

import agentmode.memory as memory_module
from agentmode.embeddings import BedrockTitanEmbedder, Embedder, OpenAICompatibleEmbedder
from agentmode.settings import Settings
from tests.factories import User, create_user
from tests.http_stub import Endpoint, openai_embeddings
from tests.lambda_invoke import invoke

VECTOR = [0.01] * 1024


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    yield server
    server.close()


@pytest.fixture
def use_embedder(monkeypatch: pytest.MonkeyPatch) -> Any:
    def install(embedder: Embedder) -> None:
        monkeypatch.setattr(memory_module, "embedder_for", lambda settings: embedder)

    return install


@pytest.fixture
def writer(admin: psycopg.Connection[Any]) -> User:
    return create_user(admin, brand_memory=False)


def write(user: User) -> Any:
    return invoke(
        "POST",
        "/agent/write-memory",
        headers=user.auth,
        json_body={"content": "Brand voice: calm.", "memory_type": "brand_memory"},
    )


def stored(admin: psycopg.Connection[Any], user: User) -> int:
    return int(admin.execute("SELECT count(*) FROM agentmode.agent_memory WHERE user_id = %s", (user.id,)).fetchone()[0])


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch, endpoint: Endpoint) -> BedrockTitanEmbedder:
    """The Bedrock embedder as a function builds it, with Lambda-like credentials, pointed at the loopback endpoint."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "token",
                        "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": endpoint.url}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    return BedrockTitanEmbedder(Settings(embeddings_timeout_seconds=0.5))


def bedrock_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], dict[str, Any], float]:
    """Bedrock Runtime's documented error reply: the code in x-amzn-ErrorType, a JSON message."""
    return status, {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"}, {"message": message}, 0.0


def test_bedrock_titan_request_and_response(
    admin: psycopg.Connection[Any], writer: User, use_embedder: Any, endpoint: Endpoint, bedrock: BedrockTitanEmbedder
) -> None:
    endpoint.answer = (200, {"x-amzn-bedrock-input-token-count": "5"}, {"embedding": VECTOR, "inputTextTokenCount": 5}, 0.0)
    use_embedder(bedrock)
    result = write(writer)
    assert result.status == 201
    assert stored(admin, writer) == 1
    request = endpoint.requests[-1]
    assert request["path"] == "/model/amazon.titan-embed-text-v2%3A0/invoke"
    assert json.loads(request["body"]) == {"inputText": "Brand voice: calm.", "dimensions": 1024, "normalize": True}
    assert request["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert "/us-east-1/bedrock/aws4_request" in request["headers"]["authorization"]
    assert request["headers"]["x-amz-security-token"] == "token"


@pytest.mark.parametrize(("status", "code"), [(429, "ThrottlingException"), (400, "ServiceQuotaExceededException")])
def test_bedrock_throttling_is_tool_rate_limit_and_writes_nothing(
    admin: psycopg.Connection[Any], writer: User, use_embedder: Any, endpoint: Endpoint, bedrock: BedrockTitanEmbedder,
    status: int, code: str,
) -> None:  # fmt: skip
    endpoint.answer = bedrock_error(status, code, "Too many requests, please wait before trying again.")
    use_embedder(bedrock)
    result = write(writer)
    assert (result.status, result.body["error_code"]) == (429, "TOOL_RATE_LIMIT")
    assert result.body["details"]["retry_after_ms"] > 0
    assert stored(admin, writer) == 0


def test_bedrock_model_timeout_is_tool_timeout(
    admin: psycopg.Connection[Any], writer: User, use_embedder: Any, endpoint: Endpoint, bedrock: BedrockTitanEmbedder
) -> None:
    endpoint.answer = bedrock_error(408, "ModelTimeoutException", "Model has timed out in processing the request.")
    use_embedder(bedrock)
    result = write(writer)
    assert (result.status, result.body["error_code"]) == (504, "TOOL_TIMEOUT")
    assert stored(admin, writer) == 0


def test_bedrock_read_timeout_is_tool_timeout(
    admin: psycopg.Connection[Any], writer: User, use_embedder: Any, endpoint: Endpoint, bedrock: BedrockTitanEmbedder
) -> None:
    endpoint.answer = (200, {}, {"embedding": VECTOR}, 1.5)
    use_embedder(bedrock)
    result = write(writer)
    assert (result.status, result.body["error_code"]) == (504, "TOOL_TIMEOUT")
    assert stored(admin, writer) == 0


def test_bedrock_access_denied_is_503_without_its_message(
    admin: psycopg.Connection[Any], writer: User, use_embedder: Any, endpoint: Endpoint, bedrock: BedrockTitanEmbedder
) -> None:
    endpoint.answer = bedrock_error(403, "AccessDeniedException", "You don't have access to the model arn:aws:bedrock:x")
    use_embedder(bedrock)
    result = write(writer)
    assert (result.status, result.body["error_code"]) == (503, "SERVICE_UNAVAILABLE")
    assert "arn:aws" not in json.dumps(result.body)
    assert stored(admin, writer) == 0


def test_bedrock_vector_of_the_wrong_size_is_refused(
    admin: psycopg.Connection[Any], writer: User, use_embedder: Any, endpoint: Endpoint, bedrock: BedrockTitanEmbedder
) -> None:
    endpoint.answer = (200, {}, {"embedding": [0.1] * 512, "inputTextTokenCount": 5}, 0.0)
    use_embedder(bedrock)
    result = write(writer)
    assert (result.status, result.body["error_code"]) == (503, "SERVICE_UNAVAILABLE")
    assert stored(admin, writer) == 0


def openai(endpoint: Endpoint, timeout: float = 2.0) -> OpenAICompatibleEmbedder:
    return OpenAICompatibleEmbedder(
        Settings(openai_base_url=endpoint.url, openai_api_key="sk-test", embeddings_timeout_seconds=timeout)
    )


def test_openai_request_and_response(admin: psycopg.Connection[Any], writer: User, use_embedder: Any, endpoint: Endpoint) -> None:
    endpoint.answer = (200, {}, openai_embeddings(VECTOR), 0.0)
    use_embedder(openai(endpoint))
    assert write(writer).status == 201
    request = endpoint.requests[-1]
    assert request["path"] == "/v1/embeddings"
    assert request["headers"]["authorization"] == "Bearer sk-test"
    assert json.loads(request["body"]) == {"model": "text-embedding-3-small", "input": ["Brand voice: calm."], "dimensions": 1024}
    assert stored(admin, writer) == 1


def test_openai_429_is_tool_rate_limit_with_its_retry_after(
    admin: psycopg.Connection[Any], writer: User, use_embedder: Any, endpoint: Endpoint
) -> None:
    endpoint.answer = (
        429,
        {"retry-after": "3"},
        {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}},
        0.0,
    )
    use_embedder(openai(endpoint))
    result = write(writer)
    assert (result.status, result.body["error_code"], result.body["details"]["retry_after_ms"]) == (429, "TOOL_RATE_LIMIT", 3000)
    assert stored(admin, writer) == 0


def test_openai_slow_answer_is_tool_timeout(
    admin: psycopg.Connection[Any], writer: User, use_embedder: Any, endpoint: Endpoint
) -> None:
    endpoint.answer = (200, {}, {"data": [{"embedding": VECTOR}]}, 1.0)
    use_embedder(openai(endpoint, timeout=0.3))
    result = write(writer)
    assert (result.status, result.body["error_code"]) == (504, "TOOL_TIMEOUT")
    assert stored(admin, writer) == 0


def test_openai_server_error_is_503(admin: psycopg.Connection[Any], writer: User, use_embedder: Any, endpoint: Endpoint) -> None:
    endpoint.answer = (500, {}, {"error": {"message": "boom"}}, 0.0)
    use_embedder(openai(endpoint))
    result = write(writer)
    assert (result.status, result.body["error_code"]) == (503, "SERVICE_UNAVAILABLE")
    assert "boom" not in json.dumps(result.body)
