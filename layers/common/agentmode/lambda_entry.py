"""The Lambda entry point shared by every function: Mangum under Powertools' logging and metrics."""

import gc
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from fastapi import FastAPI
from mangum import Mangum

from agentmode.diagnostics import log_request, profiled
from agentmode.observability import logger, metrics
from agentmode.settings import get_settings

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def lambda_handler(app: FastAPI) -> LambdaHandler:
    """The function's handler, made as the last step of its module's import, which began with `gc.disable()`.

    Importing FastAPI, pydantic, psycopg and the routes creates a few hundred thousand objects, nearly all kept for the
    container's life; the collector, triggered by allocation counts, traversed them again and again (about 10% of the
    instructions of each function's import under callgrind, ~30-40 ms of cold start). So collection is off while the
    module imports, and here, once, what was built moves to the permanent generation (`gc.freeze`), which no later
    collection scans, before collection is turned back on for the requests.
    """
    asgi = Mangum(app, lifespan="off")

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        settings = get_settings()
        if settings.debug:
            log_request(event, settings)
        started = time.perf_counter()
        with profiled(event, getattr(context, "function_name", app.title), settings):
            response = asgi(event, context)
        # Seed 000's default request log: one line per request, with the user and session keys the request appended.
        http = (event.get("requestContext") or {}).get("http") or {}
        logger.info(
            "request completed",
            extra={
                "method": http.get("method"),
                "route": event.get("routeKey"),
                "status": response.get("statusCode"),
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        return response

    gc.freeze()
    gc.enable()
    return handler
