"""What the functions' Powertools logger writes during one test, as parsed JSON lines (the `logs` fixture)."""

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from agentmode.observability import logger


class LogOutput:
    """What the functions' Powertools logger writes, as parsed JSON lines."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def lines(self, message: str) -> list[dict[str, Any]]:
        parsed = [json.loads(line) for line in self.buffer.getvalue().splitlines() if line.startswith("{")]
        return [line for line in parsed if line["message"] == message]

    def text(self) -> str:
        return self.buffer.getvalue()

    def clear(self) -> None:
        self.buffer.seek(0)
        self.buffer.truncate()


@contextmanager
def captured_logs() -> Iterator[LogOutput]:
    """The logger's handler bound its stream when the layer was imported; point it at a buffer meanwhile."""
    output = LogOutput()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(output.buffer)
    try:
        yield output
    finally:
        handler.setStream(previous)
