"""Each fault test runs as a fresh container configured for its fault, and leaves no cached client behind."""

from collections.abc import Callable, Iterator

import pytest

import agentmode.embeddings as embeddings
import agentmode.runner_queue as queue_client
from tests.conftest import reset_function_state

Configure = Callable[..., None]


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Configure]:
    """`configure(NAME="value", ...)`: a new container with these settings (settings re-read, connections dropped).

    Per-container clients the shared reset does not drop are isolated too: the embedders (keyed without their timeout
    or AWS endpoint) and agent_start's queue client. Everything is put back, and the state reset, after the test.
    """
    monkeypatch.setattr(embeddings, "_embedders", {})
    monkeypatch.setattr(queue_client, "_queue", None)

    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(embeddings, "_embedders", {})
        monkeypatch.setattr(queue_client, "_queue", None)
        reset_function_state()

    yield apply
    monkeypatch.undo()
    reset_function_state()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and no shared config, for AWS clients pointed at loopback (AWS_ENDPOINT_URL_<SERVICE>)."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
