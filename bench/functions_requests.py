"""bench.functions' targets with their requests: the rows each request needs (users, sessions, open questions,
memories, traces), made in the bench's own Postgres and chDB before any timing, and the stand-ins each function is
pointed at."""

import itertools
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from bench.functions_config import (
    BASELINE,
    BILLING,
    COLD_RUNS,
    CONTROL,
    EVENT,
    EVENTS_PAGE,
    JWT_SECRET,
    LAYER,
    MEMORY_READ,
    MEMORY_WRITE,
    ORGS,
    PROJECTS,
    RUNS,
    SEAT_SYNC,
    START,
    STATUS,
    STRIPE,
    STRIPE_WEBHOOK_SECRET,
    SWEEPER,
    TRACES,
    TRACES_CURSOR_SECRET,
    USERS,
    WARM_REQUESTS,
)
from bench.functions_targets import Deployment, EventFactory, Target
from bench.loopback import BedrockRuntime, ClickHouseHTTP, bedrock_vector
from bench.runner_loop_sessions import prepare
from bench.runner_loop_sqs import SentMessages
from local.apigw_event import build_event
from local.make_events import STRIPE_EVENT, stripe_signature_header
from local.runner_queue import AWS_TEST_CREDENTIALS
from local.schedules import SCHEDULED_EVENT
from local.seed import embed_missing, seed_user
from local.token import mint_token
from local.trace_generator import TraceBatch, generate

if TYPE_CHECKING:  # the layer is on the path only once bench.functions puts it there
    from agentmode.clickhouse import EmbeddedClickHouse

HTTP_OK, HTTP_CREATED = {"statusCode": 200}, {"statusCode": 201}
# The sweep and the seat sync of a database with nothing due: the scheduled work every minute brings when all is well.
NOTHING_SWEPT = {"found": 0, "failures": 0}
NOTHING_SYNCED = {"synced": 0, "failed": 0}
# Nothing is stalled in a bench run: the sessions made for the other functions stay quiet longer than the default 600 s.
BENCH_STALL_TIMEOUT_SECONDS = "86400"
EVENTS_ON_PAGE = 10
# Under memory_write's 100 an hour per user (rate_limit_policies): a writer per 50 writes.
WRITES_PER_USER = 50
TRACES_PER_PROJECT, SPANS_PER_TRACE = 50, 10


@dataclass(frozen=True)
class StandIns:
    """The loopback services the functions reach, as their clients would reach AWS's and ClickHouse Cloud's."""

    database_url: str
    start_queue: tuple[str, str]  # moto's SQS (endpoint, queue URL), which agent_start sends to
    runner_queue: SentMessages  # the instant SQS stand-in agent_control sends to (bench.runner_loop_sqs: why)
    bedrock: BedrockRuntime
    clickhouse: ClickHouseHTTP
    engine: "EmbeddedClickHouse"


def requests_per_target(name: str) -> int:
    """Every request a target is sent: a cold start per process, then the warm series and its warm-up call."""
    cold = RUNS * COLD_RUNS if name == name.split(" ", 1)[0] else 0
    return cold + WARM_REQUESTS[name] + 1


def api_event(method: str, path: str, *, token: str | None = None, query: str = "", body: Any = None) -> dict[str, Any]:
    """The v2 event API Gateway would send for one request."""
    headers = [("content-type", "application/json")]
    if token is not None:
        headers.append(("authorization", f"Bearer {token}"))
    return build_event(
        method=method,
        path=path,
        raw_query=query,
        headers=headers,
        body=json.dumps(body).encode() if body is not None else b"",
        route_key=f"{method} {path}",
        path_parameters={},
    )


def create_users(admin: psycopg.Connection[Any], count: int) -> list[uuid.UUID]:
    """Users with brand memory and credits; agent_start needs a fresh one per request (free plan: 10 starts a day)."""
    users = [uuid.uuid4() for _ in range(count)]
    with admin.transaction():
        for user_id in users:
            seed_user(admin, user_id, f"{user_id}@bench.local")
    return users


def create_session(admin: psycopg.Connection[Any], user_id: uuid.UUID) -> uuid.UUID:
    row = admin.execute("INSERT INTO agentmode.agent_sessions (user_id) VALUES (%s) RETURNING id", (user_id,)).fetchone()
    assert row is not None
    session_id: uuid.UUID = row[0]
    return session_id


def logged_session(admin: psycopg.Connection[Any], user_id: uuid.UUID, events: int) -> uuid.UUID:
    """A session with `events` logged tool calls: a page of the events list."""
    session_id = create_session(admin, user_id)
    admin.execute(
        "INSERT INTO agentmode.agent_execution_logs (session_id, user_id, seq, action_type, tool_name, event_payload)"
        " SELECT %s, %s, seq, 'tool_called', 'bench_tool', '{}' FROM generate_series(1, %s) AS seq",
        (session_id, user_id, events),
    )
    admin.execute("UPDATE agentmode.agent_sessions SET last_seq = %s WHERE id = %s", (events, session_id))
    return session_id


def personal_org(admin: psycopg.Connection[Any], user_id: uuid.UUID) -> uuid.UUID:
    row = admin.execute("SELECT org_id FROM agentmode.user_orgs WHERE user_id = %s", (user_id,)).fetchone()
    assert row is not None
    org_id: uuid.UUID = row[0]
    return org_id


def default_project(admin: psycopg.Connection[Any], org_id: uuid.UUID) -> uuid.UUID:
    row = admin.execute("SELECT id FROM agentmode.projects WHERE org_id = %s", (org_id,)).fetchone()
    assert row is not None
    project_id: uuid.UUID = row[0]
    return project_id


def stripe_delivery() -> dict[str, Any]:
    """A fresh, signed event of a type the webhook acknowledges: verification, claim and commit, no Stripe API call."""
    body = json.dumps({**STRIPE_EVENT, "id": f"evt_{uuid.uuid4().hex}"}).encode()
    return build_event(
        method="POST",
        path="/v4/stripe-webhook",
        raw_query="",
        headers=[
            ("stripe-signature", stripe_signature_header(body, STRIPE_WEBHOOK_SECRET)),
            ("content-type", "application/json"),
        ],
        body=body,
        route_key="POST /v4/stripe-webhook",
        path_parameters={},
    )


def build_targets(admin: psycopg.Connection[Any], build: Path, stand_ins: StandIns) -> list[Target]:
    """Every function, each with the rows its requests need and the stand-ins it calls, then the baseline."""
    deployment = Deployment(refs={"ClickHouseHost": "127.0.0.1", "RunStallTimeoutSeconds": BENCH_STALL_TIMEOUT_SECONDS})
    start_users = iter(create_users(admin, requests_per_target(START)))
    event_user, status_user, memory_user = create_users(admin, 3)
    event_token, status_token, memory_token = (mint_token(user, JWT_SECRET) for user in (event_user, status_user, memory_user))
    event_body = {"session_id": str(create_session(admin, event_user)), "action_type": "tool_called", "tool_name": "bench_tool"}
    status_query = f"session_id={create_session(admin, status_user)}"
    events_query = f"session_id={logged_session(admin, status_user, EVENTS_ON_PAGE)}&after_seq=0"
    # The seeded brand memory, embedded as the stand-in embeds: the search finds it.
    embed_missing(admin, lambda text: bedrock_vector(text, 1024))
    writers = [
        mint_token(user, JWT_SECRET) for user in create_users(admin, requests_per_target(MEMORY_WRITE) // WRITES_PER_USER + 1)
    ]
    written = itertools.count()
    # agent_control answers one open question per request: runner_loop's sessions, each asking its user.
    sessions = prepare(stand_ins.database_url, requests_per_target(CONTROL))
    control_token, questions = mint_token(sessions.user, JWT_SECRET), iter(sessions.asking)

    def member(method: str, path: str, body: Any = None, query: str = "") -> tuple[EventFactory, uuid.UUID]:
        """A user of their own per route (the API-call limit counts per user), with the personal organization and
        Default Project the signup trigger gave them; `{org_id}` and `{project_id}` name those."""
        (user,) = create_users(admin, 1)
        token, org = mint_token(user, JWT_SECRET), personal_org(admin, user)
        project = default_project(admin, org)
        path, query = (text.replace("{org_id}", str(org)).replace("{project_id}", str(project)) for text in (path, query))
        return (lambda: api_event(method, path, token=token, query=query, body=body)), project

    read_me, _ = member("GET", "/opsboard/users/me")
    list_projects, listed_project = member("GET", "/opsboard/projects")
    list_orgs, _ = member("GET", "/opsboard/orgs")
    # The owner cancelling a subscription the organization does not have: authorised and locked, then 409 before any
    # Stripe import (Stripe's latency is not this function's).
    cancel, _ = member("POST", "/opsboard/orgs/{org_id}/cancel-subscription", {"subscription_id": "sub_bench"})
    read_traces, traced_project = member("GET", "/v4/traces", query="project_id={project_id}&limit=20")
    now = datetime.now(UTC)
    for project in (traced_project, listed_project):
        generate(stand_ins.engine, TraceBatch(str(project), TRACES_PER_PROJECT, SPANS_PER_TRACE, now - timedelta(days=2), now))

    def start_agent() -> dict[str, Any]:
        return api_event("POST", "/agent/start", token=mint_token(next(start_users), JWT_SECRET), body={"goal": "bench run"})

    def read_memory() -> dict[str, Any]:
        return api_event("GET", "/agent/read-memory", token=memory_token, query="query=brand%20voice&limit=5")

    def write_memory() -> dict[str, Any]:
        number = next(written)
        body = {"content": f"Bench insight {number}: short hooks hold attention.", "memory_type": "insight"}
        return api_event("POST", "/agent/write-memory", token=writers[number // WRITES_PER_USER], body=body)

    def respond() -> dict[str, Any]:
        body = {"session_id": str(next(questions)), "question_seq": 1, "value": "b"}
        return api_event("POST", "/agent/respond", token=control_token, body=body)

    aws = {**AWS_TEST_CREDENTIALS, "AWS_REGION": AWS_TEST_CREDENTIALS["AWS_DEFAULT_REGION"]}
    start_queue = {**aws, "AWS_ENDPOINT_URL_SQS": stand_ins.start_queue[0], "AGENT_QUEUE_URL": stand_ins.start_queue[1]}
    runner_queue = {
        **aws,
        "AWS_ENDPOINT_URL_SQS": stand_ins.runner_queue.endpoint,
        "AGENT_QUEUE_URL": stand_ins.runner_queue.queue_url,
    }
    bedrock = {**aws, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": stand_ins.bedrock.url}
    clickhouse = stand_ins.clickhouse.environment()
    traces = {**clickhouse, "TRACES_CURSOR_SECRET": TRACES_CURSOR_SECRET}
    built = {
        START: (HTTP_CREATED, start_agent, start_queue),
        EVENT: (HTTP_OK, lambda: api_event("POST", "/agent/event", token=event_token, body=event_body), {}),
        STATUS: (HTTP_OK, lambda: api_event("GET", "/agent/status", token=status_token, query=status_query), {}),
        EVENTS_PAGE: (HTTP_OK, lambda: api_event("GET", "/agent/events", token=status_token, query=events_query), {}),
        MEMORY_WRITE: (HTTP_CREATED, write_memory, bedrock),
        MEMORY_READ: (HTTP_OK, read_memory, bedrock),
        STRIPE: (HTTP_OK, stripe_delivery, {"STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET}),
        TRACES: (HTTP_OK, read_traces, traces),
        USERS: (HTTP_OK, read_me, {}),
        PROJECTS: (HTTP_OK, list_projects, clickhouse),
        ORGS: (HTTP_OK, list_orgs, {}),
        BILLING: ({"statusCode": 409}, cancel, clickhouse),
        SEAT_SYNC: (NOTHING_SYNCED, lambda: dict(SCHEDULED_EVENT), {}),
        CONTROL: (HTTP_OK, respond, runner_queue),
        SWEEPER: (NOTHING_SWEPT, lambda: dict(SCHEDULED_EVENT), runner_queue),
    }  # fmt: skip
    targets = [deployment.target(name, build, expected, events, **env) for name, (expected, events, env) in built.items()]
    ping = Target(BASELINE, (build / BASELINE, build / LAYER), HTTP_OK, lambda: api_event("GET", "/ping"))
    return [*targets, ping]
