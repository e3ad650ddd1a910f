"""bench.stripe_webhook's knobs, in one place: the function, the workload's sizes and what the verification compares."""

from local.stack import ROOT

RESULTS_FILE = "stripe_webhook.json"
FUNCTION_DIR = ROOT / "functions" / "stripe_webhook"
FUNCTION_NAME = "StripeWebhookFunction"
PATH = "/v4/stripe-webhook"
SECRET = "whsec_bench_only_secret_for_a_throwaway_database"  # noqa: S105 - signs deliveries to a throwaway database
REPLAY_DB = "replay"

SEED = 20261125
ORGS = 150
UNIQUE_EVENTS = 1_400
DUPLICATES = 600
WORKERS = 8
DELETED_ORGS = 30  # 20 %: the subscription ends with customer.subscription.deleted
DISPUTED_ORGS = 8  # ~5 %: one charge.dispute.created somewhere after the checkout
UPDATES_PER_ORG = (3, 10)
STATUSES = ("active", "trialing", "past_due", "unpaid", "canceled")
DAY = 86_400
MONTH = 30 * DAY
MAX_GAP_SECONDS = 3_600

COMPARED_COLUMNS = (
    "prem_status",
    "subscription_id",
    "subscription_status",
    "subscription_end_date",
    "subscription_cancel_at_period_end",
    "stripe_customer_id",
    "billing_flagged",
    # Derived from every status the org's events carried, so it must match the in-order replay too.
    "past_due_since",
    "effective_plan",
)
NOT_COMPARED = {
    "billing_state_at/billing_state_rank": "bookkeeping of the ordering guard",
    "updated_at": "wall-clock time of the write",
}
