"""GET /opsboard/orgs for a user in 10 pro organizations, warm and in-process, with every Stripe call counted.

The real AgentOps server asks Stripe for each pro organization's period and cancel flag on every listing (10 calls
here); this API reads the columns the webhook maintains. STRIPE_API_BASE points at a loopback server that counts
whatever reaches it, so "0 Stripe calls" is measured, not assumed. Rounds interleave:

    floor      agent_status GET /agent/status of a fresh session: an authenticated route doing almost nothing
    orgs_list  GET /opsboard/orgs: the user's 10 pro organizations (5 members and 2 projects each) and personal one

Targets (issue 13): 0 Stripe calls; warm p50 <= 3 ms (routes without an external call).
`python -m bench.opsboard_orgs [--rounds 10 --requests 100] [--publish]`; results: opsboard_orgs.json.
"""

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any
from uuid import UUID, uuid4

import psycopg

from bench.in_process import api_event, interleaved_rounds, percentiles_over_floor, succeeding_call
from bench.machine import machine_info
from bench.results_dir import add_publish_flag, results_dir, shown, write_results
from local.lambda_runtime import LambdaContext, load_handler, use_layer
from local.stack import ROOT, apply_migrations, start_postgres
from local.token import mint_token

JWT_SECRET = "bench-secret-for-hs256-tokens-at-least-32-bytes"  # noqa: S105 - a throwaway local secret
STRIPE_KEY = "sk_test_bench"
RESULTS_FILE = "opsboard_orgs.json"
PRO_ORGS = 10
MEMBERS_PER_ORG = 5
PROJECTS_PER_ORG = 2
TARGET_P50_MS = 3.0


@contextmanager
def counting_stripe() -> Iterator[tuple[str, list[str]]]:
    """A loopback 'Stripe' that answers 500 to anything and records the path: it must see no request."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            seen.append(self.path)
            self.send_response(500)
            self.send_header("content-length", "0")
            self.end_headers()

        do_GET = do_POST = _any

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _user(conn: psycopg.Connection[Any]) -> UUID:
    user = uuid4()
    conn.execute("INSERT INTO auth.users (id, email, email_confirmed_at) VALUES (%s, %s, now())", (user, f"{user}@bench.local"))
    return user


def _postgres(work: Path) -> tuple[str, UUID, UUID]:
    """The user, owner of 10 pro organizations with a live subscription each, their members and projects."""
    url = start_postgres(work / "pg")
    apply_migrations(url)
    with psycopg.connect(url, autocommit=True) as conn:
        # Unlimited for the bench: the rounds send more requests than the shipped 1,000 API calls an hour.
        conn.execute("UPDATE agentmode.rate_limit_policies SET limit_count = 1000000000 WHERE action = 'api_call'")
        user = _user(conn)
        for number in range(PRO_ORGS):
            org = conn.execute(
                "INSERT INTO agentmode.orgs (name, prem_status, subscription_id, subscription_status, subscription_end_date)"
                " VALUES (%s, 'pro', %s, 'active', 1893456000) RETURNING id",
                (f"pro org {number}", f"sub_bench_{number}"),
            ).fetchone()[0]  # type: ignore[index]
            conn.execute("INSERT INTO agentmode.user_orgs (user_id, org_id, role) VALUES (%s, %s, 'owner')", (user, org))
            for _ in range(MEMBERS_PER_ORG - 1):
                conn.execute(
                    "INSERT INTO agentmode.user_orgs (user_id, org_id, role) VALUES (%s, %s, 'developer')", (_user(conn), org)
                )
            for project in range(PROJECTS_PER_ORG):
                conn.execute("INSERT INTO agentmode.projects (org_id, name) VALUES (%s, %s)", (org, f"project {project}"))
        session = conn.execute("INSERT INTO agentmode.agent_sessions (user_id) VALUES (%s) RETURNING id", (user,)).fetchone()
    assert session is not None
    return url, user, session[0]


def measure(rounds: int, requests: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-opsboard-orgs-") as tmp, counting_stripe() as (stripe_url, seen):
        url, user, session = _postgres(Path(tmp))
        os.environ.update(
            DATABASE_URL=url, SUPABASE_JWT_SECRET=JWT_SECRET, ENVIRONMENT="test", POWERTOOLS_METRICS_DISABLED="true",
            POWERTOOLS_LOG_LEVEL="WARNING", SUPABASE_URL="", SUPABASE_JWT_ISSUER="", STRIPE_API_BASE=stripe_url,
            STRIPE_SECRET_KEY=STRIPE_KEY,
        )  # fmt: skip
        use_layer()
        token = mint_token(user, JWT_SECRET)
        status = load_handler(ROOT / "functions" / "agent_status", "app.handler")
        orgs = load_handler(ROOT / "functions" / "opsboard_orgs", "app.handler")
        listing = orgs(api_event("GET", "/opsboard/orgs", token), LambdaContext(function_name="OpsboardOrgsFunction"))
        listed = len(json.loads(listing["body"]))
        variants: dict[str, Callable[[], None]] = {
            "floor": succeeding_call(
                status, api_event("GET", "/agent/status", token, f"session_id={session}"),
                LambdaContext(function_name="AgentStatusFunction"),
            ),
            "orgs_list": succeeding_call(
                orgs, api_event("GET", "/opsboard/orgs", token), LambdaContext(function_name="OpsboardOrgsFunction")
            ),
        }  # fmt: skip
        samples = interleaved_rounds(variants, rounds, requests)
        stripe_requests = len(seen)
    figures = percentiles_over_floor(samples)
    p50 = figures["orgs_list"]["p50_ms"]
    return {
        "method": __doc__,
        "machine": machine_info(),
        "data": {"pro_orgs": PRO_ORGS, "orgs_listed": listed, "members_per_org": MEMBERS_PER_ORG},
        "requests_per_variant": len(samples["floor"]),
        "variants": figures,
        "stripe_requests": stripe_requests,
        "target": {
            "orgs_list_p50_max_ms": TARGET_P50_MS, "orgs_list_p50_ms": p50, "stripe_requests": stripe_requests,
            "met": p50 <= TARGET_P50_MS and stripe_requests == 0,
        },
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="GET /opsboard/orgs warm p50/p99 (10 pro orgs) and its Stripe calls")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=100)
    add_publish_flag(parser)
    args = parser.parse_args(argv)
    results = measure(args.rounds, args.requests)
    path = results_dir(args.publish) / RESULTS_FILE
    write_results(results, path)
    for name, figure in results["variants"].items():
        print(f"{name:10} p50 {figure['p50_ms']:.3f} ms  p99 {figure['p99_ms']:.3f} ms  x{figure['p50_over_floor']:.2f} of floor")
    print(f"orgs listed: {results['data']['orgs_listed']}; Stripe requests during the run: {results['stripe_requests']}")
    print(f"target: orgs_list p50 <= {TARGET_P50_MS:g} ms and 0 Stripe calls: {'met' if results['target']['met'] else 'NOT met'}")
    print(f"wrote {shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
