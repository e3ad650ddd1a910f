"""`make run`: every function served on one port, each request turned into the v2 event API Gateway would send.

What `sam local start-api` does, without Docker: routes come from template.yaml, and each function's deployed
handler (`functions/<name>/app.handler`) answers. One lock per function stands for its one warm container. What API
Gateway answers itself (CORS preflights, no route, a malformed or oversized request) the runner answers in the
functions' error format; it also serves the contract at /openapi.json and a page to try it at /docs.
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from agentmode.auth import verify_token
from agentmode.errors import ErrorCode
from agentmode.settings import get_settings
from local import cors, devconfig
from local.access_log import masked
from local.api_docs import docs_page
from local.apigw_event import build_event
from local.function_logs import log_as
from local.lambda_runtime import Handler, LambdaContext, load_handler
from local.realtime_channel import channel_messages
from local.replies import Reply, error_reply, from_lambda_result
from local.template_routes import Route, load_routes, match_route

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's own payload limit
SSE_PREFIX = "/local/sessions/"
SSE_POLL_SECONDS = 0.5
SSE_MAX_SECONDS = 900
# http.server's own refusals, which come before any route is looked up: as codes and messages a client can act on.
# No code of the table fits oversized headers (431) or request lines (414) yet: VALIDATION_ERROR names the limit.
REFUSALS: dict[int, tuple[ErrorCode, str | None]] = {
    HTTPStatus.NOT_IMPLEMENTED: (ErrorCode.METHOD_NOT_ALLOWED, None),
    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE: (
        ErrorCode.HEADERS_TOO_LARGE,
        "The request headers are too large: at most 100 headers, each line at most 64 KB.",
    ),
    HTTPStatus.REQUEST_URI_TOO_LONG: (ErrorCode.URI_TOO_LONG, "The request line is too long: at most 64 KB."),
    HTTPStatus.HTTP_VERSION_NOT_SUPPORTED: (ErrorCode.VALIDATION_ERROR, "Only HTTP/1.0 and HTTP/1.1 are served."),
}
MALFORMED_REQUEST = (ErrorCode.VALIDATION_ERROR, "The HTTP request is malformed.")


def _container_thread_init(service: str) -> None:
    asyncio.set_event_loop(asyncio.new_event_loop())
    log_as(service)


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
                    max_workers=1,
                    thread_name_prefix=route.function,
                    initializer=_container_thread_init,
                    initargs=(route.service,),
                )

    def invoke(self, route: Route, event: dict[str, Any]) -> dict[str, Any]:
        context = LambdaContext(
            function_name=route.function, memory_limit_in_mb=route.memory_mb, timeout_seconds=route.timeout_seconds
        )
        return self.containers[route.function].submit(self.handlers[route.function], event, context).result()

    def shutdown(self) -> None:
        for container in self.containers.values():
            container.shutdown(wait=False, cancel_futures=True)

    def call(self, method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes) -> Reply:
        found = match_route(self.routes, method, path)
        if found is None:
            # API Gateway itself answers {"message":"Not Found"} here (only `/` matches no route of the template).
            return error_reply(ErrorCode.NOT_FOUND)
        route, params = found
        event = build_event(
            method=method, path=path, raw_query=query, headers=headers, body=body,
            route_key=route.route_key, path_parameters=params,
        )  # fmt: skip
        request_id = event["requestContext"]["requestId"]
        try:
            result = self.invoke(route, event)
        except Exception as exc:  # noqa: BLE001 - a crashed integration is a 500, never a crashed runner
            # The type only: an exception's text can hold the request's data.
            print(f"{route.function} failed: {type(exc).__name__} (request {request_id})", file=sys.stderr)
            return error_reply(ErrorCode.INTERNAL_ERROR, request_id=request_id)
        return from_lambda_result(result, request_id)


class RequestHandler(BaseHTTPRequestHandler):
    host: FunctionHost
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        if os.environ.get("LOCAL_ACCESS_LOG", "1") == "1":
            super().log_message("%s", masked(format % args))

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (an unknown method, a malformed or oversized request line or headers), in the
        error format. The connection closes: the rest of the request was never read."""
        self.log_error("code %d, message %s", code, message)
        error_code, text = REFUSALS.get(code, MALFORMED_REQUEST)
        allow = {"allow": ", ".join(self.served_methods())} if error_code is ErrorCode.METHOD_NOT_ALLOWED else {}
        self._send(error_reply(error_code, text, headers=allow), close=True)

    @classmethod
    def served_methods(cls) -> list[str]:
        return sorted(name.removeprefix("do_") for name in dir(cls) if name.startswith("do_"))

    def _handle(self) -> None:
        length = self._body_length()
        if length is None:
            self._answer(error_reply(ErrorCode.VALIDATION_ERROR, "Content-Length must be a whole number of bytes."), close=True)
            return
        if length > MAX_BODY_BYTES:
            self._answer(error_reply(ErrorCode.PAYLOAD_TOO_LARGE, details={"max_bytes": MAX_BODY_BYTES}), close=True)
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        origin = self.headers.get("origin")
        if cors.is_preflight(self.command, origin, self.headers.get("access-control-request-method")):
            self._send(Reply(204, cors.preflight_headers(origin or ""), b""))
            return
        page = docs_page(url.path) if self.command in ("GET", "HEAD") else None
        if page is not None:
            self._answer(page)
            return
        if self.command == "GET" and url.path.startswith(SSE_PREFIX) and url.path.endswith("/stream"):
            self._stream(unquote(url.path[len(SSE_PREFIX) : -len("/stream")]), url.query)
            return
        self._answer(self.host.call(self.command, url.path, url.query, list(self.headers.items()), body))

    def _body_length(self) -> int | None:
        """The declared body size, or None when Content-Length is not a whole number (int() would raise, or read to EOF)."""
        declared = self.headers.get("content-length") or "0"
        return int(declared) if declared.isascii() and declared.isdigit() else None

    def _answer(self, reply: Reply, *, close: bool = False) -> None:
        """A reply with the CORS headers API Gateway would put on it for this request's Origin."""
        headers = cors.with_cors(reply.headers, self.headers.get("origin"))
        self._send(Reply(reply.status, headers, reply.body, reply.cookies), close=close)

    def _send(self, reply: Reply, *, close: bool = False) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            if name not in ("content-length", "connection"):
                self.send_header(name, value)
        for cookie in reply.cookies:
            self.send_header("set-cookie", cookie)
        if reply.status != HTTPStatus.NO_CONTENT:  # a 204 carries no Content-Length (RFC 9110 §8.6)
            self.send_header("content-length", str(len(reply.body)))
        if close:
            self.send_header("connection", "close")
        self.end_headers()
        if reply.body and self.command != "HEAD":
            self.wfile.write(reply.body)

    def _stream(self, session_id: str, query: str) -> None:
        """Server-sent events of a session, as a web app follows one: first the log so far, through the deployed
        GET /agent/events handler (so auth, validation and isolation are the real ones; a refusal there is the
        answer, in the error format), then what Supabase Realtime pushes on the session's private channel, read from
        the local stand-in's realtime.messages as that user may receive it (local/realtime_channel.py)."""
        params = parse_qs(query)
        token = (params.get("access_token") or [""])[0] or self.headers.get("authorization", "").removeprefix("Bearer ")
        after = (params.get("after_seq") or ["0"])[0] or "0"
        events = self._events_after(session_id, after, token)
        if events.status != 200:
            self._answer(events)
            return
        # The stream has no length: it ends when the connection closes.
        stream_headers = {"content-type": "text/event-stream", "cache-control": "no-cache", "connection": "close"}
        self.send_response(200)
        for name, value in cors.with_cors(stream_headers, self.headers.get("origin")).items():
            self.send_header(name, value)
        self.end_headers()
        deadline = time.monotonic() + SSE_MAX_SECONDS
        user, topic = verify_token(token, get_settings()), f"agent-session:{session_id}"
        batch: list[dict[str, Any]] = json.loads(events.body)["events"]
        try:
            while True:
                for event in batch:
                    after = str(event["payload"]["seq"])
                    self.wfile.write(f"id: {after}\nevent: {event['event']}\ndata: {json.dumps(event['payload'])}\n\n".encode())
                # A comment line each poll: the write fails as soon as the client has gone, which ends the loop.
                self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
                if time.monotonic() >= deadline:
                    return
                time.sleep(SSE_POLL_SECONDS)
                batch = channel_messages(user, topic, int(after))
        except (BrokenPipeError, ConnectionResetError):
            return

    def _events_after(self, session_id: str, after_seq: str, token: str) -> Reply:
        query = urlencode({"session_id": session_id, "after_seq": after_seq})
        return self.host.call("GET", "/agent/events", query, [("authorization", f"Bearer {token}")], b"")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle


def configure_environment(database_url: str, data_dir: Path) -> None:
    """Local defaults; anything already set in the environment (SUPABASE_JWT_SECRET, ...) wins."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("CLICKHOUSE_LOCAL_PATH", str(data_dir / "clickhouse"))
    os.environ.setdefault("ENVIRONMENT", "local")
    os.environ.setdefault("SUPABASE_JWT_SECRET", devconfig.DEV_JWT_SECRET)
    # Locally no SUPABASE_URL gives the issuer to expect; `make token` signs with the Supabase CLI's.
    os.environ.setdefault("SUPABASE_JWT_ISSUER", devconfig.DEV_JWT_ISSUER)
    os.environ.setdefault("STRIPE_WEBHOOK_SECRET", devconfig.DEV_STRIPE_WEBHOOK_SECRET)
    os.environ.setdefault("STRIPE_SUBSCRIPTION_PRICE_ID", devconfig.DEV_STRIPE_PRICE_ID)
    os.environ.setdefault("RUNNER_TOKEN_SECRET", devconfig.DEV_RUNNER_TOKEN_SECRET)
    # Names lines logged outside any function (start-up, seeding); a function's own name its service (function_logs.py).
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "agentmode-local")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "AgentMode")


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog of 5 resets or stalls bursts of new connections (bench/load.py: 20 resets
    # among 50 clients); API Gateway accepts them all.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line where socketserver would print a stack trace (most often a client that left mid-answer)."""
        failure = sys.exc_info()[1]
        print(f"connection from {client_address[0]} ended: {type(failure).__name__}", file=sys.stderr)


def make_server(host: str, port: int, routes: list[Route] | None = None) -> ThreadingHTTPServer:
    handler_class = type("BoundRequestHandler", (RequestHandler,), {"host": FunctionHost(routes or load_routes())})
    return LocalServer((host, port), handler_class)


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


# The run sweeper's schedule here (every minute deployed): question timeouts and stalls show within seconds.
LOCAL_SWEEP_SECONDS = 5.0


def start_runner_loop(api_url: str) -> Callable[[], None]:
    """`make run RUNNER=1`: a FIFO runner queue of its own (moto), the reference runner consuming it, and the run
    sweeper on a timer; returns what stops them. Set before the first request, so agent_start sends to that queue."""
    from local.reference_runner import ReferenceRunner
    from local.runner_queue import local_fifo_queue
    from local.schedules import every

    queue_context = local_fifo_queue()
    local_queue = queue_context.__enter__()
    os.environ.update(local_queue.environment())
    # The settings were read at start-up (before the queue existed): agent_start must see AGENT_QUEUE_URL.
    get_settings.cache_clear()
    stop_runner = ReferenceRunner(api_url, local_queue.client(), local_queue.url).start_in_background()
    stop_sweeps = every(LOCAL_SWEEP_SECONDS, "run_sweeper", "RunSweeperFunction")

    def stop() -> None:
        stop_sweeps()
        stop_runner()
        queue_context.__exit__(None, None, None)

    return stop


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.server", description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--runner", action="store_true", help="also run the reference runner on a local queue (make run RUNNER=1)"
    )
    args = parser.parse_args(argv)
    # Ctrl-C and `kill` both end the server the same way, so embedded Postgres is stopped on exit either way.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    from agentmode.clickhouse import close_embedded, get_clickhouse
    from agentmode.embeddings import embedder_for
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
    stop_runner_loop = start_runner_loop(f"http://{host}:{port}") if args.runner else None
    routes = sorted({r.route_key for r in load_routes()})
    print(f"Postgres: {data_dir / 'postgres'} ({len(applied)} new migrations applied)")
    chdb_path = os.environ["CLICKHOUSE_LOCAL_PATH"]
    print(f"ClickHouse (chDB): {chdb_path} ({len(schema_applied)} new schema files, {demo_traces} demo traces)")
    print(f"Serving {len(routes)} routes on http://{host}:{port}: {', '.join(routes)}")
    print(f"API docs: http://{host}:{port}/docs (the contract: http://{host}:{port}/openapi.json)")
    print(f"Demo user {devconfig.DEMO_USER_ID} (brand memory, 100 credits). Get a token:  make token")
    print(f'  TOKEN=$(make -s token) && curl -s -X POST http://{host}:{port}/agent/start -H "Authorization: Bearer $TOKEN" \\')
    print('       -H "Content-Type: application/json" -d \'{"goal": "Generate video ads for my SaaS product"}\'')
    print(f"  curl -s 'http://{host}:{port}/v4/traces?project_id={DEMO_PROJECT_ID}' -H \"Authorization: Bearer $TOKEN\"")
    if stop_runner_loop is not None:
        print("Reference runner: consuming the local runner queue; follow a run live at"
              f" http://{host}:{port}{SSE_PREFIX}<session_id>/stream?access_token=$TOKEN (docs/runner.md)")  # fmt: skip
    print("Ctrl-C stops the server and Postgres.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if stop_runner_loop is not None:
            stop_runner_loop()
        server.server_close()
        close_embedded()


if __name__ == "__main__":
    main()
