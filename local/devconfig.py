"""Development-only defaults of the local stack. Never used by a deployed function."""

import os
from pathlib import Path
from uuid import UUID

from local.stack import DEFAULT_DATA_DIR

# The Supabase CLI's own default local JWT secret, so tokens from `supabase start` work here too.
DEV_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"  # noqa: S105 - public dev default
# The issuer of the Supabase CLI's local auth (`supabase start`): local tokens carry it and the local stack expects it,
# as a deployment expects {SUPABASE_URL}/auth/v1.
DEV_JWT_ISSUER = "http://127.0.0.1:54321/auth/v1"
# Local stand-ins for Stripe settings (`stripe listen` prints its own whsec_ secret: export it to use that instead).
DEV_STRIPE_WEBHOOK_SECRET = "whsec_local_development_only"  # noqa: S105 - public dev default
DEV_STRIPE_PRICE_ID = "price_local_pro"
# Signs the local stack's runner credentials (docs/runner.md); a deployment's RUNNER_TOKEN_SECRET is its own secret.
DEV_RUNNER_TOKEN_SECRET = "local-runner-credentials-development-only-key"  # noqa: S105 - public dev default
DEMO_USER_ID = UUID("6f1c2a3e-8b4d-4e7f-9a10-0d3e5b7c9a21")
DEMO_USER_EMAIL = "demo@agentmode.local"


def data_dir() -> Path:
    return Path(os.environ.get("LOCAL_DATA_DIR", str(DEFAULT_DATA_DIR))).resolve()


def jwt_secret() -> str:
    return os.environ.get("SUPABASE_JWT_SECRET") or DEV_JWT_SECRET


def local_database_url() -> str:
    """The URI of the cluster `make run` keeps in the data folder (a unix socket in that folder)."""
    return f"postgresql://postgres:@/postgres?host={data_dir() / 'postgres'}"
