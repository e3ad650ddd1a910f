"""What bench.functions measures: a private copy of the build, and each handler with the requests it will be sent."""

import json
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from bench.errors import BenchError
from bench.functions_config import (
    BASELINE,
    BASELINE_DIR,
    BILLING,
    COLD_RUNS,
    EVENT,
    FUNCTIONS,
    JWT_SECRET,
    LAYER,
    ORGS,
    PROJECTS,
    START,
    STATUS,
    STRIPE,
    STRIPE_WEBHOOK_SECRET,
    USERS,
    WARM_REQUESTS,
)
from local.apigw_event import build_event
from local.build import BUILD_DIR, compile_bytecode
from local.make_events import STRIPE_EVENT, stripe_signature_header
from local.seed import seed_user
from local.token import mint_token

EventFactory = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class Target:
    """One handler to measure: its code folders, how to make its next request, and the status that request must get."""

    name: str
    python_path: tuple[Path, ...]
    expected_status: int
    next_event: EventFactory
    env: dict[str, str] = field(default_factory=dict)


def snapshot_build(work_dir: Path) -> Path:
    """A private copy of the build as `make build` made it (a build meanwhile, e.g. by the tests, would swap the code
    mid-run), with the baseline beside it, compiled the same way."""
    if not BUILD_DIR.is_dir():
        raise BenchError(f"{BUILD_DIR} is missing; run `make build` first")
    build = shutil.copytree(BUILD_DIR, work_dir / "build", symlinks=True)
    missing = [path for path in [build / LAYER, *(build / name / "app.py" for name in FUNCTIONS)] if not path.exists()]
    if missing:
        raise BenchError(f"incomplete build: {', '.join(map(str, missing))}; run `make build` first")
    shutil.copytree(BASELINE_DIR, build / BASELINE, ignore=shutil.ignore_patterns("__pycache__"))
    compile_bytecode(build / BASELINE)
    return build


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


def build_targets(admin: psycopg.Connection[Any], build: Path, sqs_env: dict[str, str]) -> list[Target]:
    """The three functions, each with the users and session its requests need, and the baseline."""
    layer = build / LAYER
    start_users = iter(create_users(admin, COLD_RUNS + 1 + WARM_REQUESTS[START]))
    event_user, status_user = create_users(admin, 2)
    event_token, status_token = mint_token(event_user, JWT_SECRET), mint_token(status_user, JWT_SECRET)
    event_body = {"session_id": str(create_session(admin, event_user)), "action_type": "tool_called", "tool_name": "bench_tool"}
    status_query = f"session_id={create_session(admin, status_user)}"

    def start_agent() -> dict[str, Any]:
        return api_event("POST", "/agent/start", token=mint_token(next(start_users), JWT_SECRET), body={"goal": "bench run"})

    def log_event() -> dict[str, Any]:
        return api_event("POST", "/agent/event", token=event_token, body=event_body)

    def read_status() -> dict[str, Any]:
        return api_event("GET", "/agent/status", token=status_token, query=status_query)

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

    def ping() -> dict[str, Any]:
        return api_event("GET", "/ping")

    # The /opsboard routes, a user each (the API-call limit counts per user): their personal organization and Default
    # Project come from the signup trigger; no outside call (deployed without a ClickHouse host, the project counts
    # are null at once). Billing: the owner cancelling a subscription the organization does not have, so the request
    # is authorised and locked, then answers 409 before any Stripe import (Stripe's latency is not this function's).
    def opsboard(method: str, path: str, body: Any = None) -> EventFactory:
        (user,) = create_users(admin, 1)
        token = mint_token(user, JWT_SECRET)
        org = admin.execute("SELECT org_id FROM agentmode.user_orgs WHERE user_id = %s", (user,)).fetchone()
        assert org is not None
        resolved = path.replace("{org_id}", str(org[0]))
        return lambda: api_event(method, resolved, token=token, body=body)

    read_me = opsboard("GET", "/opsboard/users/me")
    list_projects = opsboard("GET", "/opsboard/projects")
    list_orgs = opsboard("GET", "/opsboard/orgs")
    cancel = opsboard("POST", "/opsboard/orgs/{org_id}/cancel-subscription", {"subscription_id": "sub_bench"})

    # Lambda's path order: the function's folder (/var/task) before the layer (/opt/python).
    return [
        Target(START, (build / START, layer), 201, start_agent, env=sqs_env),
        Target(EVENT, (build / EVENT, layer), 200, log_event),
        Target(STATUS, (build / STATUS, layer), 200, read_status),
        Target(STRIPE, (build / STRIPE, layer), 200, stripe_delivery, env={"STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET}),
        Target(USERS, (build / USERS, layer), 200, read_me),
        Target(PROJECTS, (build / PROJECTS, layer), 200, list_projects),
        Target(ORGS, (build / ORGS, layer), 200, list_orgs),
        Target(BILLING, (build / BILLING, layer), 409, cancel),
        Target(BASELINE, (build / BASELINE, layer), 200, ping),
    ]
