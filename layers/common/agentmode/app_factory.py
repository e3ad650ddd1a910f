"""Builds each function's FastAPI app so every answer, errors included, has the one error format."""

import json
import math
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from agentmode.errors import AppError, ErrorBody, ErrorCode, error_body
from agentmode.observability import logger

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BODY_BYTES = 256 * 1024

ERROR_BODY_REF = {"$ref": "#/components/schemas/ErrorBody"}


def documented_errors(*entries: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """A route's error statuses for its OpenAPI `responses=`: (status, "CODE: when"), each answered as ErrorBody.

    The body is named by its schema, not as `model=`: FastAPI builds a pydantic TypeAdapter for every response
    model of every route when the module loads, about 0.3 ms each here, which over a function's routes and error
    statuses was a large part of its cold start, for a schema only the OpenAPI document reads.
    """
    return {
        status: {"description": description, "content": {"application/json": {"schema": ERROR_BODY_REF}}}
        for status, description in entries
    }


ERROR_RESPONSES = documented_errors(
    (400, "Validation error"),
    (401, "Missing or invalid token"),
    (413, "Body too large"),
    (500, "Unexpected error"),
    (503, "Backing service unavailable"),
)
# Every authenticated route counts seed 001 §8's per-user API calls; routes with a quota of their own (and a provider's
# limit) declare RATE_LIMITED instead, which names those too.
API_CALLS_LIMITED = documented_errors((429, "RATE_LIMIT_EXCEEDED (the per-user API-call limit), with Retry-After"))
RATE_LIMITED = documented_errors(
    (429, "RATE_LIMIT_EXCEEDED (API calls or this route's quota) or TOOL_RATE_LIMIT (a provider), with Retry-After")
)


def request_id_of(scope: Scope) -> str:
    """The API Gateway request id (the logs' correlation id); a fresh one outside Lambda."""
    if "request_id" not in scope.setdefault("state", {}):
        event = scope.get("aws.event") or {}
        rid = (event.get("requestContext") or {}).get("requestId")
        scope["state"]["request_id"] = rid if isinstance(rid, str) and rid else str(uuid.uuid4())
    return str(scope["state"]["request_id"])


def error_response(
    scope: Scope, code: ErrorCode, message: str | None = None, details: dict[str, Any] | None = None
) -> JSONResponse:
    body = error_body(code, message or code.default_message, details or {}, request_id_of(scope))
    headers = {}
    retry_after_ms = body.details.get("retry_after_ms")
    if isinstance(retry_after_ms, int):
        headers["Retry-After"] = str(max(1, -(-retry_after_ms // 1000)))
    return JSONResponse(body.model_dump(mode="json"), status_code=code.http_status, headers=headers)


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    if exc.code.http_status >= 500:
        logger.error("request failed", extra={"error_code": exc.code.name, "request_id": request_id_of(request.scope)})
    return error_response(request.scope, exc.code, exc.message, exc.details)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Echoing the rejected input back could reflect secrets or huge blobs: name the field and the rule only.
    problems = [
        {"field": ".".join(str(part) for part in err.get("loc", ())), "message": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    return error_response(request.scope, ErrorCode.VALIDATION_ERROR, details={"errors": problems})


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}.get(exc.status_code, ErrorCode.VALIDATION_ERROR)
    response = error_response(request.scope, code)
    # A 405 must name the methods the path does answer (RFC 9110 §15.5.6); Starlette puts them in Allow.
    allow = (exc.headers or {}).get("Allow")
    if allow:
        response.headers["Allow"] = allow
    return response


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None once it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class GuardMiddleware:
    """Outermost guard: bounds the body size and turns any unhandled exception into INTERNAL_ERROR.

    Starlette's own server-error path re-raises after answering, which would put a stack trace in the
    logs; here the failure is logged as its type and request id only.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await error_response(scope, ErrorCode.PAYLOAD_TOO_LARGE, details={"max_bytes": self.max_body_bytes})(
                scope, receive, send
            )
            return
        started = False
        # The whole body is read here, before the app sees any of it: a limit raised while FastAPI reads the body
        # would surface as its own 400, and API Gateway may omit or understate Content-Length.
        body = await _read_body(receive, self.max_body_bytes)
        if body is None:
            await error_response(scope, ErrorCode.PAYLOAD_TOO_LARGE, details={"max_bytes": self.max_body_bytes})(
                scope, receive, send
            )
            return
        replayed = False

        async def replay_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, replay_receive, tracking_send)
        except Exception as exc:  # noqa: BLE001 - the last line of defence must catch everything
            logger.error(
                "unhandled exception",
                extra={"error_type": type(exc).__name__, "request_id": request_id_of(scope)},
            )
            if not started:
                await error_response(scope, ErrorCode.INTERNAL_ERROR)(scope, receive, send)


def create_app(
    router: APIRouter, *, title: str, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, authenticated: bool = True
) -> FastAPI:
    """One function's app: its router, the shared error handlers, no docs endpoints. `authenticated=False` for a
    route that takes no JWT (Stripe's webhook), whose contract then lists no 401.

    Routes and dependencies are `async def` even though they call blocking psycopg: a Lambda container serves one
    request at a time, so blocking its event loop delays nobody, while FastAPI's threadpool hand-off for plain `def`
    routes cost about 4 ms per request here (status p50 5.5 ms -> 1.1 ms).
    """
    without_jwt = {status: spec for status, spec in ERROR_RESPONSES.items() if status != 401}
    responses = ERROR_RESPONSES | API_CALLS_LIMITED if authenticated else without_jwt
    for route in router.routes:
        if isinstance(route, APIRoute):
            route.responses = responses | route.responses
    # The router's routes become the app's own: FastAPI builds an included router's routes a second time, on the
    # first request (the cold one), with every dependency and response field again.
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None, routes=router.routes)
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(GuardMiddleware, max_body_bytes=max_body_bytes)
    app.openapi = lambda: _documented_as_served(app)  # type: ignore[method-assign]
    return app


def _documented_as_served(app: FastAPI) -> dict[str, Any]:
    """FastAPI documents validation failures as 422 HTTPValidationError; this API answers them 400 with ErrorBody."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                response = operation.get("responses", {}).get("422", {})
                if "HTTPValidationError" in json.dumps(response):
                    del operation["responses"]["422"]
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        error_body_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
        schemas.update(error_body_schema.pop("$defs", {}))
        schemas["ErrorBody"] = error_body_schema
        app.openapi_schema = schema
    return app.openapi_schema


def nesting_problem(value: Any, max_depth: int, depth: int = 1) -> str | None:
    """Why `value` (JSON of dicts and lists) nests deeper than `max_depth` levels, or None: an answer echoing a stored
    object nested too deep could not be serialised (the row written, the request failed), so bodies bound it."""
    if depth > max_depth:
        return f"must nest at most {max_depth} levels deep"
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return next((problem for item in items if (problem := nesting_problem(item, max_depth, depth + 1))), None)


def json_size(value: Any) -> int:
    """Bytes of `value` as compact JSON, to bound free-form JSON fields."""
    return len(json.dumps(value, separators=(",", ":"), default=str).encode())


def unstorable(value: Any) -> str | None:
    """Why Postgres could not store `value` (a str, or JSON of dicts and lists) as text or jsonb, or None if it can:
    NUL (U+0000) fits neither, an unpaired surrogate is not UTF-8, and NaN or Infinity are not JSON.
    A loop, not recursion: JSON nested near the parser's limit must not hit Python's."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "text must not contain NUL (U+0000)"
            try:
                item.encode()
            except UnicodeEncodeError:
                return "text must not contain unpaired surrogates"
        elif isinstance(item, float) and not math.isfinite(item):
            return "numbers must be finite (no NaN or Infinity)"
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return None


class RequestBody(BaseModel):
    """Base of the JSON bodies the functions store: what Postgres would refuse is a 400 naming the field, not a failed
    insert (a 500) after credits, quota or an embedding were already spent on the request."""

    @field_validator("*")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        reason = unstorable(value)
        if reason is not None:
            raise ValueError(reason)
        return value
