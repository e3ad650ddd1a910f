"""Each embeddings provider's request/response, throttling and timeouts, and that a provider failure writes nothing.

Bedrock: botocore's Stubber for the documented InvokeModel shapes, and a real botocore client against a loopback
server that answers too slowly. OpenAI-compatible: a loopback server speaking `POST /v1/embeddings`.
"""

import io
import json
from collections.abc import Iterator
from typing import Any

import botocore.session
import psycopg
import pytest
from botocore.config import Config
from botocore.response import StreamingBody
from botocore.stub import Stubber

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


def bedrock_client(**config: Any) -> Any:
    session = botocore.session.get_session()
    return session.create_client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing", **config
    )


def streaming(payload: dict[str, Any]) -> StreamingBody:
    raw = json.dumps(payload).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def test_bedrock_titan_request_and_response(admin: psycopg.Connection[Any], writer: User, use_embedder: Any) -> None:
    client = bedrock_client()
    expected = {
        "modelId": "amazon.titan-embed-text-v2:0",
        "body": json.dumps({"inputText": "Brand voice: calm.", "dimensions": 1024, "normalize": True}),
        "contentType": "application/json",
        "accept": "application/json",
    }
    with Stubber(client) as stub:
        stub.add_response(
            "invoke_model",
            {"body": streaming({"embedding": VECTOR, "inputTextTokenCount": 5}), "contentType": "application/json"},
            expected,
        )
        use_embedder(BedrockTitanEmbedder(Settings(), client=client))
        result = write(writer)
        stub.assert_no_pending_responses()
    assert result.status == 201
    assert stored(admin, writer) == 1


@pytest.mark.parametrize("code", ["ThrottlingException", "ServiceQuotaExceededException"])
def test_bedrock_throttling_is_tool_rate_limit_and_writes_nothing(
    admin: psycopg.Connection[Any], writer: User, use_embedder: Any, code: str
) -> None:
    client = bedrock_client()
    with Stubber(client) as stub:
        stub.add_client_error("invoke_model", service_error_code=code, http_status_code=429)
        use_embedder(BedrockTitanEmbedder(Settings(), client=client))
        result = write(writer)
    assert (result.status, result.body["error_code"]) == (429, "TOOL_RATE_LIMIT")
    assert result.body["details"]["retry_after_ms"] > 0
    assert stored(admin, writer) == 0


def test_bedrock_model_timeout_is_tool_timeout(admin: psycopg.Connection[Any], writer: User, use_embedder: Any) -> None:
    client = bedrock_client()
    with Stubber(client) as stub:
        stub.add_client_error("invoke_model", service_error_code="ModelTimeoutException", http_status_code=408)
        use_embedder(BedrockTitanEmbedder(Settings(), client=client))
        result = write(writer)
    assert (result.status, result.body["error_code"]) == (504, "TOOL_TIMEOUT")
    assert stored(admin, writer) == 0


def test_bedrock_read_timeout_is_tool_timeout(
    admin: psycopg.Connection[Any], writer: User, use_embedder: Any, endpoint: Endpoint
) -> None:
    endpoint.answer = (200, {}, {"embedding": VECTOR}, 1.5)
    client = bedrock_client(
        endpoint_url=endpoint.url, config=Config(read_timeout=0.3, connect_timeout=0.3, retries={"max_attempts": 1})
    )
    use_embedder(BedrockTitanEmbedder(Settings(), client=client))
    result = write(writer)
    assert (result.status, result.body["error_code"]) == (504, "TOOL_TIMEOUT")
    assert stored(admin, writer) == 0


def test_bedrock_vector_of_the_wrong_size_is_refused(admin: psycopg.Connection[Any], writer: User, use_embedder: Any) -> None:
    client = bedrock_client()
    with Stubber(client) as stub:
        stub.add_response("invoke_model", {"body": streaming({"embedding": [0.1] * 512}), "contentType": "application/json"})
        use_embedder(BedrockTitanEmbedder(Settings(), client=client))
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
