"""GET /openapi.json and GET /docs on the local runner only (the Lambdas serve no docs): the merged contract, and a
small page that lists its operations and sends them with a bearer token. No CDN: the page is one self-contained file."""

from pathlib import Path

from local.openapi import OPENAPI_PATH
from local.replies import Reply

DOCS_PAGE = Path(__file__).with_name("api_docs.html")
# The page's script and style are inline; everything else it may reach is this runner.
DOCS_POLICY = "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"


def docs_page(path: str) -> Reply | None:
    """The runner's own page at `path`, if any; read on each request, so a fresh `make openapi` shows without a restart."""
    if path == "/openapi.json":
        return Reply(200, {"content-type": "application/json"}, OPENAPI_PATH.read_bytes())
    if path == "/docs":
        headers = {"content-type": "text/html; charset=utf-8", "content-security-policy": DOCS_POLICY}
        return Reply(200, headers, DOCS_PAGE.read_bytes())
    return None
