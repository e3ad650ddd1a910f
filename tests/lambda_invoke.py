"""Drives a function's deployed handler with the v2 event API Gateway would send, in-process."""

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from local.apigw_event import build_event
from local.lambda_runtime import LambdaContext, load_handler
from local.stack import ROOT
from local.template_routes import Route, load_routes, match_route

EVENTS_DIR = ROOT / "events"


@dataclass(frozen=True)
class Result:
    status: int
    headers: dict[str, str]
    body: Any


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return event


@functools.cache
def routes() -> tuple[Route, ...]:
    """template.yaml's routes, parsed once per test session (each parse costs ~50 ms)."""
    return tuple(load_routes())


def event_for(
    method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes = b"", raw_query: str = ""
) -> dict[str, Any]:
    """The API Gateway v2 event of a request to the route that template.yaml matches for it."""
    found = match_route(list(routes()), method, path)
    assert found is not None, path
    route, params = found
    all_headers = {"content-type": "application/json", **(headers or {})}
    return build_event(
        method=method, path=path, raw_query=raw_query, headers=list(all_headers.items()), body=body,
        route_key=route.route_key, path_parameters=params,
    )  # fmt: skip


def invoke_event(event: dict[str, Any]) -> Result:
    found = match_route(list(routes()), event["requestContext"]["http"]["method"], event["rawPath"])
    assert found is not None, event["rawPath"]
    route = found[0]
    handler = load_handler(route.code_uri, route.handler)
    response = handler(event, LambdaContext(function_name=route.function))
    body = response.get("body") or ""
    return Result(
        response["statusCode"], {k.lower(): v for k, v in response.get("headers", {}).items()}, json.loads(body) if body else None
    )


def invoke(
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    json_body: Any = None,
    raw_body: bytes | None = None,
    query: dict[str, Any] | None = None,
) -> Result:
    body = raw_body if raw_body is not None else (json.dumps(json_body).encode() if json_body is not None else b"")
    return invoke_event(event_for(method, path, headers=headers, body=body, raw_query=urlencode(query or {})))


def function_dir(name: str) -> Path:
    return ROOT / "functions" / name
