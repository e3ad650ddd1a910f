"""A client of the session's local runner (tests/conftest.py's live_server)."""

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture
def client(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=10) as http:
        yield http
