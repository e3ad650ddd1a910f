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
MEMORY_WRITE, MEMORY_READ, TRACES = "MemoryWriteFunction", "MemoryReadFunction", "TracesFunction"
CONTROL, SWEEPER, SEAT_SYNC = "AgentControlFunction", "RunSweeperFunction", "SeatSyncFunction"
# Every AWS::Serverless::Function of template.yaml (tests/unit/test_bench_functions.py holds them equal).
FUNCTIONS = (
    START, EVENT, STATUS, MEMORY_WRITE, MEMORY_READ, STRIPE, TRACES, USERS, PROJECTS, ORGS, BILLING, SEAT_SYNC, CONTROL,
    SWEEPER,
)  # fmt: skip
# A second route of a function, measured warm only: it has a budget of its own.
EVENTS_PAGE = f"{STATUS} GET /agent/events"

# Issue 15: the whole cold measurement three times, each run interleaving every function with the baseline; a
# function's ratio is the median of the three runs' ratios. COLD_RUNS fresh interpreters per target and run (5, not
# the former 7 in one run: 15 targets x 15 processes keep the bench under 10 minutes on 2 cores).
RUNS = 3
COLD_RUNS = 5
WARM_REQUESTS = {name: 300 for name in (*FUNCTIONS, EVENTS_PAGE, BASELINE)} | {START: 200, SWEEPER: 100, SEAT_SYNC: 100}
STRIPE_WEBHOOK_SECRET = "whsec_bench_only"  # noqa: S105 - verifies the bench's own deliveries
TRACES_CURSOR_SECRET = "bench-only-traces-cursor-key"  # noqa: S105 - signs the cursors of a throwaway ClickHouse
CHILD_TIMEOUT_SECONDS = 120

COLD_RATIO_LIMIT = 1.3
# Issue 15: routes whose work is one transaction answer within 3 ms warm (memory_read without its embedding call,
# opsboard_projects without its ClickHouse query: see WARM_NET_OF), agent_event within 5 ms.
WARM_P50_LIMITS_MS = {
    STATUS: 3.0, EVENTS_PAGE: 3.0, EVENT: 5.0, MEMORY_READ: 3.0, USERS: 3.0, PROJECTS: 3.0, ORGS: 3.0,
}  # fmt: skip
# The call to another service a target's warm budget leaves out, as (module, attribute, what it is).
WARM_NET_OF = {
    MEMORY_READ: ("agentmode.embeddings", "BedrockTitanEmbedder.embed", "the embedding call"),
    PROJECTS: ("agentmode.clickhouse", "RemoteClickHouse.query", "the ClickHouse query"),
}

JWT_SECRET = "bench-only-hs256-secret-of-at-least-32-bytes"  # noqa: S105 - signs tokens for a throwaway database
