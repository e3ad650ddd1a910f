"""`make run`: every function served on one port, each request turned into the v2 event API Gateway would send.

What `sam local start-api` does, without Docker: routes come from template.yaml, and each function's deployed
handler (`functions/<name>/app.handler`) answers. One lock per function stands for its one warm container.
"""

import asyncio
import base64
import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local import devconfig
from local.apigw_event import build_event
from local.lambda_runtime import Handler, LambdaContext, load_handler, use_layer
from local.template_routes import Route, load_routes, match_route

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's own payload limit
SSE_PREFIX = "/local/sessions/"
SSE_POLL_SECONDS = 0.5
SSE_MAX_SECONDS = 900


def _container_thread_init() -> None:
    asyncio.set_event_loop(asyncio.new_event_loop())


class FunctionHost:
    """The loaded handlers, each run on its own single thread: one warm Lambda container, one request at a time."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes
        self.handlers: dict[str, Handler] = {}
        self.containers: dict[str, ThreadPoolExecutor] = {}
        for route in routes:
            if route.function not in self.handlers:
                self.handlers[route.function] = load_handler(route.code_uri, route.handler)
                self.containers[route.function] = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix=route.function, initializer=_container_thread_init
                )

    def invoke(self, route: Route, event: dict[str, Any]) -> dict[str, Any]:
        context = LambdaContext(
            function_name=route.function, memory_limit_in_mb=route.memory_mb, timeout_seconds=route.timeout_seconds
        )
        return self.containers[route.function].submit(self.handlers[route.function], event, context).result()

    def shutdown(self) -> None:
        for container in self.containers.values():
            container.shutdown(wait=False, cancel_futures=True)

    def call(self, method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes) -> dict[str, Any]:
        found = match_route(self.routes, method, path)
        if found is None:
            return {"statusCode": 404, "headers": {"content-type": "application/json"}, "body": '{"message":"Not Found"}'}
        route, params = found
        event = build_event(
            method=method, path=path, raw_query=query, headers=headers, body=body,
            route_key=route.route_key, path_parameters=params,
        )  # fmt: skip
        try:
            return self.invoke(route, event)
        except Exception:  # noqa: BLE001 - API Gateway answers a crashed integration with a bare 500
            return {
                "statusCode": 500,
                "headers": {"content-type": "application/json"},
                "body": '{"message":"Internal Server Error"}',
            }


class RequestHandler(BaseHTTPRequestHandler):
    host: FunctionHost
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        if os.environ.get("LOCAL_ACCESS_LOG", "1") == "1":
            super().log_message(format, *args)

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            self._send(413, {"content-type": "application/json"}, b'{"message":"Request Entity Too Large"}')
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        if self.command == "OPTIONS" and self.headers.get("access-control-request-method"):
            self._send(204, self._cors_headers() | {"access-control-allow-methods": "GET, POST, OPTIONS"}, b"")
            return
        if self.command == "GET" and url.path.startswith(SSE_PREFIX) and url.path.endswith("/stream"):
            self._stream(url.path[len(SSE_PREFIX) : -len("/stream")], url.query)
            return
        result = self.host.call(self.command, url.path, url.query, list(self.headers.items()), body)
        payload = result.get("body") or ""
        raw = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        for cookie in result.get("cookies") or []:
            headers.setdefault("set-cookie", cookie)
        self._send(int(result.get("statusCode", 200)), headers | self._cors_headers(), raw)

    def _cors_headers(self) -> dict[str, str]:
        origin = self.headers.get("origin")
        if not origin:
            return {}
        return {
            "access-control-allow-origin": origin,
            "access-control-allow-headers": "authorization, content-type, idempotency-key, x-client-info, apikey",
            "access-control-max-age": "600",
        }

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _stream(self, session_id: str, query: str) -> None:
        """Server-sent events of a session's log: what Supabase Realtime would push, read from the same rows
        through the deployed GET /agent/events handler (so auth and isolation are the real ones)."""
        params = parse_qs(query)
        token = (params.get("access_token") or [""])[0] or self.headers.get("authorization", "").removeprefix("Bearer ")
        after = int((params.get("after_seq") or ["0"])[0] or 0)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.end_headers()
        deadline = time.monotonic() + SSE_MAX_SECONDS
        try:
            while time.monotonic() < deadline:
                result = self.host.call(
                    "GET",
                    "/agent/events",
                    f"session_id={session_id}&after_seq={after}",
                    [("authorization", f"Bearer {token}")],
                    b"",
                )
                if result.get("statusCode") != 200:
                    self.wfile.write(f"event: error\ndata: {result.get('body')}\n\n".encode())
                    return
                for event in json.loads(result["body"])["events"]:
                    after = event["seq"]
                    self.wfile.write(f"id: {after}\nevent: {event['event']}\ndata: {json.dumps(event['payload'])}\n\n".encode())
                # A comment line each poll: the write fails as soon as the client has gone, which ends the loop.
                self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
                time.sleep(SSE_POLL_SECONDS)
        except (BrokenPipeError, ConnectionResetError):
            return

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle


def configure_environment(database_url: str, data_dir: Path) -> None:
    """Local defaults; anything already set in the environment (SUPABASE_JWT_SECRET, ...) wins."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("CLICKHOUSE_LOCAL_PATH", str(data_dir / "clickhouse"))
    os.environ.setdefault("ENVIRONMENT", "local")
    os.environ.setdefault("SUPABASE_JWT_SECRET", devconfig.DEV_JWT_SECRET)
    os.environ.setdefault("STRIPE_WEBHOOK_SECRET", devconfig.DEV_STRIPE_WEBHOOK_SECRET)
    os.environ.setdefault("STRIPE_SUBSCRIPTION_PRICE_ID", devconfig.DEV_STRIPE_PRICE_ID)
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "agentmode-local")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "AgentMode")


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog of 5 resets or stalls bursts of new connections (bench/load.py: 20 resets
    # among 50 clients); API Gateway accepts them all.
    request_queue_size = 128


def make_server(host: str, port: int, routes: list[Route] | None = None) -> ThreadingHTTPServer:
    handler_class = type("BoundRequestHandler", (RequestHandler,), {"host": FunctionHost(routes or load_routes())})
    return LocalServer((host, port), handler_class)


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # Ctrl-C and `kill` both end the server the same way, so embedded Postgres is stopped on exit either way.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    use_layer()
    from agentmode.clickhouse import close_embedded, get_clickhouse
    from agentmode.embeddings import embedder_for
    from agentmode.settings import get_settings
    from local.clickhouse_schema import apply_schema
    from local.seed import DEMO_PROJECT_ID, seed_demo, seed_demo_traces
    from local.stack import apply_migrations, start_postgres

    data_dir: Path = devconfig.data_dir()
    database_url = start_postgres(data_dir)
    applied = apply_migrations(database_url)
    configure_environment(database_url, data_dir)
    clickhouse = get_clickhouse(get_settings())
    schema_applied = apply_schema(clickhouse)
    demo_traces = seed_demo_traces(clickhouse)
    # Loads the embeddings model now (the memory functions share it): the demo's brand memory gets its vector.
    seed_demo(database_url, embedder_for(get_settings()).embed)
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "3000"))
    server = make_server(host, port)
    routes = sorted({r.route_key for r in load_routes()})
    print(f"Postgres: {data_dir / 'postgres'} ({len(applied)} new migrations applied)")
    chdb_path = os.environ["CLICKHOUSE_LOCAL_PATH"]
    print(f"ClickHouse (chDB): {chdb_path} ({len(schema_applied)} new schema files, {demo_traces} demo traces)")
    print(f"Serving {len(routes)} routes on http://{host}:{port}: {', '.join(routes)}")
    print(f"Demo user {devconfig.DEMO_USER_ID} (brand memory, 100 credits). Get a token:  make token")
    print(f'  TOKEN=$(make -s token) && curl -s -X POST http://{host}:{port}/agent/start -H "Authorization: Bearer $TOKEN" \\')
    print('       -H "Content-Type: application/json" -d \'{"goal": "Generate video ads for my SaaS product"}\'')
    print(f"  curl -s 'http://{host}:{port}/v4/traces?project_id={DEMO_PROJECT_ID}' -H \"Authorization: Bearer $TOKEN\"")
    print("Ctrl-C stops the server and Postgres.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        close_embedded()


if __name__ == "__main__":
    main()
