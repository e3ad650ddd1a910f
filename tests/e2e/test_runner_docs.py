"""The local runner serves the merged contract at /openapi.json and a page to try it at /docs, with nothing from a CDN."""

import json
import re

import httpx

from local.openapi import OPENAPI_PATH


def test_openapi_json_is_the_merged_contract(client: httpx.Client) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == json.loads(OPENAPI_PATH.read_text())


def test_docs_is_a_page_that_reads_the_contract_and_sends_bearer_tokens(client: httpx.Client) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text
    assert "Bearer " in response.text


def test_docs_loads_nothing_from_another_host(client: httpx.Client) -> None:
    page = client.get("/docs")
    assert re.findall(r"""(?:src|href|url)\s*[=(]\s*["']?(?:https?:)?//""", page.text) == []
    assert "default-src 'self'" in page.headers["content-security-policy"]
