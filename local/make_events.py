"""Writes events/*.json: one API Gateway HTTP API v2 event per route, for `sam local invoke -e` and the tests.

The token is signed with the local dev secret (the Supabase CLI default) and expires in 2100: it is only valid
against the local stack, whose demo seed creates the user and session these events name.
"""

import hashlib
import hmac
import json
import re
import time

from local import devconfig
from local.apigw_event import build_event
from local.seed import (
    ASKING_SESSION_ID,
    DEMO_ORG_ID,
    DEMO_PROJECT_ID,
    DEMO_SESSION_ID,
    PARTNER_ORG_ID,
    SANDBOX_ORG_ID,
    SCRATCH_PROJECT_ID,
    TEAMMATE_USER_ID,
)
from local.stack import ROOT
from local.template_routes import Route, load_routes
from local.token import mint_token
from local.trace_generator import trace_id_of

EVENTS_DIR = ROOT / "events"
TOKEN_EXPIRES_AT = 4_102_444_800  # 2100-01-01: long-lived on purpose, and valid only with the public dev secret

BODIES: dict[str, dict[str, object]] = {
    "POST /agent/start": {
        "goal": "Generate video ads for my SaaS product",
        "reference_video_url": "https://example.com/video.mp4",
        "constraints": {"max_videos": 3, "max_duration_seconds": 30, "aspect_ratio": "9:16"},
    },
    "POST /agent/event": {
        "session_id": str(DEMO_SESSION_ID),
        "step_name": "Research competitors",
        "action_type": "tool_result",
        "tool_name": "meta_ads_search",
        "input_data": {"search_term": "Nike", "limit": 50},
        "output_data": {"ads_count": 50},
        "reasoning": "Searching Meta Ads Library for Nike to identify winning hooks",
        "confidence_score": 0.95,
        "execution_time_ms": 2300,
        "status": "success",
    },
}
BODIES["POST /agent/respond"] = {"session_id": str(ASKING_SESSION_ID), "question_seq": 1, "value": "concept_1"}
BODIES["POST /agent/cancel"] = {"session_id": str(ASKING_SESSION_ID)}
BODIES["POST /agent/write-memory"] = {
    "content": "Campaign result: the 'stop wasting time' hook doubled watch time on 9:16 videos.",
    "memory_type": "campaign_result",
    "metadata": {"campaign": "spring-launch", "source": "agent_inferred"},
    "expires_at": None,
}
QUERIES = {
    "GET /agent/read-memory": "query=brand%20voice&memory_type=brand_memory&limit=5",
    "GET /agent/status": f"session_id={DEMO_SESSION_ID}",
    "GET /agent/events": f"session_id={DEMO_SESSION_ID}&after_seq=0",
    "GET /v4/traces": f"project_id={DEMO_PROJECT_ID}&limit=5&order_by=total_cost",
    "GET /v4/traces/{trace_id}": f"project_id={DEMO_PROJECT_ID}",
    "GET /v4/meterics/project": f"project_id={DEMO_PROJECT_ID}",
    "GET /v4/metrics/project": f"project_id={DEMO_PROJECT_ID}",
}
# The demo organization's new member, invited and then revoked by the next event (events run in file-name order).
NEW_HIRE_EMAIL = "new-hire@agentmode.local"
PROFILE: dict[str, object] = {"full_name": "Demo User", "avatar_url": "https://avatars.example.com/demo.png"}
DEMO_PROJECT_FIELDS: dict[str, object] = {"name": "Demo project", "environment": "development"}
BODIES.update({
    "PUT /opsboard/users/me": PROFILE,
    "POST /opsboard/users/update": PROFILE,
    "POST /opsboard/projects": {"name": "Landing page agent", "org_id": str(DEMO_ORG_ID), "environment": "staging"},
    "PUT /opsboard/projects/{project_id}": DEMO_PROJECT_FIELDS,
    "POST /opsboard/projects/{project_id}/update": DEMO_PROJECT_FIELDS,
    "POST /opsboard/orgs": {"name": "TechFlow Labs"},
    "POST /opsboard/orgs/create": {"name": "TechFlow Labs"},
    "PUT /opsboard/orgs/{org_id}": {"name": "TechFlow (demo)"},
    "POST /opsboard/orgs/{org_id}/update": {"name": "TechFlow (demo)"},
    "POST /opsboard/orgs/{org_id}/invite": {"email": NEW_HIRE_EMAIL, "role": "developer"},
    "POST /opsboard/orgs/{org_id}/change-role": {"user_id": str(TEAMMATE_USER_ID), "role": "admin"},
    "POST /opsboard/orgs/{org_id}/members/update": {"user_id": str(TEAMMATE_USER_ID), "role": "admin"},
    "POST /opsboard/orgs/{org_id}/remove-member": {"user_id": str(TEAMMATE_USER_ID)},
    "POST /opsboard/orgs/{org_id}/members/remove": {"user_id": str(TEAMMATE_USER_ID)},
    "POST /opsboard/orgs/{org_id}/create-checkout-session": {"quantity": 2},
    "POST /opsboard/orgs/{org_id}/validate-discount-code": {"discount_code": "LAUNCH20"},
    "POST /opsboard/orgs/{org_id}/cancel-subscription": {"subscription_id": "sub_demo"},
    "POST /opsboard/orgs/{org_id}/reactivate-subscription": {"subscription_id": "sub_demo"},
})  # fmt: skip
DEMO_TRACE_ID = trace_id_of(1, str(DEMO_PROJECT_ID), 0)
# Which of the demo seed's rows each route with a path parameter names. The demo organization by default; the
# invites and membership the demo user answers or leaves are other organizations' (local/seed.py's team).
PATH_PARAMETERS: dict[str, dict[str, str]] = {
    "GET /v4/traces/{trace_id}": {"trace_id": DEMO_TRACE_ID},
    "DELETE /opsboard/orgs/{org_id}": {"org_id": str(SANDBOX_ORG_ID)},
    "DELETE /opsboard/orgs/{org_id}/invites/{email}": {"org_id": str(DEMO_ORG_ID), "email": NEW_HIRE_EMAIL},
    "POST /opsboard/orgs/{org_id}/accept-invite": {"org_id": str(PARTNER_ORG_ID)},
    "POST /opsboard/orgs/{org_id}/accept": {"org_id": str(PARTNER_ORG_ID)},
    "POST /opsboard/orgs/{org_id}/decline-invite": {"org_id": str(PARTNER_ORG_ID)},
    "POST /opsboard/orgs/{org_id}/leave": {"org_id": str(SANDBOX_ORG_ID)},
    "DELETE /opsboard/projects/{project_id}": {"project_id": str(SCRATCH_PROJECT_ID)},
    "POST /opsboard/projects/{project_id}/delete": {"project_id": str(SCRATCH_PROJECT_ID)},
    "POST /opsboard/projects/{project_id}/regenerate-key": {"project_id": str(SCRATCH_PROJECT_ID)},
}
DEFAULT_PATH_PARAMETERS = {"org_id": str(DEMO_ORG_ID), "project_id": str(DEMO_PROJECT_ID)}
# A Stripe delivery of a type the webhook acknowledges without side effects. Its signature (local dev secret) is
# valid for five minutes after this script runs: `stripe_signature_header` re-signs it for later use.
STRIPE_EVENT = {
    "id": "evt_1LocalSampleInvoicePaid",
    "object": "event",
    "api_version": "2026-10-28",
    "created": 1795000000,
    "type": "invoice.paid",
    "livemode": False,
    "pending_webhooks": 1,
    "request": {"id": None, "idempotency_key": None},
    "data": {"object": {"id": "in_1LocalSample", "object": "invoice", "customer": "cus_LocalSample", "status": "paid"}},
}


def stripe_signature_header(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """Stripe's v1 scheme: HMAC-SHA256 of "<t>.<payload>" with the endpoint secret."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={hmac.new(secret.encode(), f'{t}.'.encode() + payload, hashlib.sha256).hexdigest()}"


def file_name(route_key: str) -> str:
    method, path = route_key.split(" ", 1)
    slug = path.strip("/").replace("/", "_").replace("{", "").replace("}", "").replace("+", "") or "root"
    return f"{slug}_{method.lower()}.json"


def path_parameters(route: Route) -> dict[str, str]:
    names = re.findall(r"\{(\w+)\}", route.path)
    return PATH_PARAMETERS.get(route.route_key) or {name: DEFAULT_PATH_PARAMETERS[name] for name in names}


def main() -> None:
    token = mint_token(devconfig.DEMO_USER_ID, devconfig.DEV_JWT_SECRET, ttl_seconds=TOKEN_EXPIRES_AT - int(time.time()))
    for route in load_routes():
        parameters = path_parameters(route)
        path = route.path.format(**parameters)
        body = json.dumps(BODIES[route.route_key]).encode() if route.route_key in BODIES else b""
        headers = [("authorization", f"Bearer {token}"), ("content-type", "application/json"), ("host", "localhost:3000")]
        if route.route_key == "POST /v4/stripe-webhook":
            body = json.dumps(STRIPE_EVENT).encode()
            headers = [("stripe-signature", stripe_signature_header(body, devconfig.DEV_STRIPE_WEBHOOK_SECRET)), *headers[1:]]
        event = build_event(
            method=route.method,
            path=path,
            raw_query=QUERIES.get(route.route_key, ""),
            headers=headers,
            body=body,
            route_key=route.route_key,
            path_parameters=parameters,
        )
        target = EVENTS_DIR / file_name(route.route_key)
        target.write_text(json.dumps(event, indent=2) + "\n")
        print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
