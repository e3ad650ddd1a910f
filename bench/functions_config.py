"""bench.functions' knobs, in one place: what is measured, how often, and the budgets it is held to."""

from pathlib import Path

LAYER = Path("CommonLayer") / "python"
BENCH_DIR = Path(__file__).resolve().parent
CHILD = BENCH_DIR / "_child.py"
BASELINE_DIR = BENCH_DIR / "baseline"
RESULTS_FILE = "functions.json"

START, EVENT, STATUS, BASELINE = "AgentStartFunction", "AgentEventFunction", "AgentStatusFunction", "Baseline"
STRIPE = "StripeWebhookFunction"
USERS, PROJECTS, ORGS, BILLING = (
    "OpsboardUsersFunction",
    "OpsboardProjectsFunction",
    "OpsboardOrgsFunction",
    "OpsboardBillingFunction",
)
FUNCTIONS = (START, EVENT, STATUS, STRIPE, USERS, PROJECTS, ORGS, BILLING)
COLD_RUNS = 7
WARM_REQUESTS = {
    START: 200, EVENT: 300, STATUS: 300, STRIPE: 300, USERS: 300, PROJECTS: 300, ORGS: 300, BILLING: 300, BASELINE: 300,
}  # fmt: skip
STRIPE_WEBHOOK_SECRET = "whsec_bench_only"  # noqa: S105 - verifies the bench's own deliveries
CHILD_TIMEOUT_SECONDS = 120

COLD_RATIO_LIMIT = 1.5
# Issue 13: the /opsboard routes without an external call answer within 3 ms warm.
WARM_P50_LIMITS_MS = {STATUS: 3.0, EVENT: 6.0, USERS: 3.0, PROJECTS: 3.0, ORGS: 3.0}

JWT_SECRET = "bench-only-hs256-secret-of-at-least-32-bytes"  # noqa: S105 - signs tokens for a throwaway database
