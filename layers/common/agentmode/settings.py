"""Runtime settings, read once per container from environment variables.

A plain pydantic model, not pydantic-settings: every setting is a scalar read from its one variable, which is all
BaseSettings did here, and pydantic-settings (importing python-dotenv and argparse) cost every cold start ~16 ms
of import and ~2 ms in Settings().
"""

import os
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class Settings(BaseModel):
    """Every setting the functions read; the README lists them with their defaults."""

    model_config = ConfigDict(extra="ignore", validate_default=True)

    environment: Literal["local", "test", "dev", "staging", "prod"] = "local"
    database_url: SecretStr = SecretStr("postgresql://postgres@localhost:5432/postgres")
    db_connect_timeout_seconds: int = Field(default=5, ge=1, le=60)
    db_statement_timeout_ms: int = Field(default=5000, ge=100, le=300_000)

    supabase_url: str = ""
    supabase_jwt_secret: SecretStr = SecretStr("")
    # Empty: derived from supabase_url as Supabase issues it ({SUPABASE_URL}/auth/v1); see expected_issuer().
    supabase_jwt_issuer: str = ""
    supabase_service_role_key: SecretStr = SecretStr("")
    jwt_audience: str = "authenticated"
    jwks_cache_seconds: int = Field(default=600, ge=0)
    # How long a container keeps a secret read from Secrets Manager (<SETTING>_SECRET_ID); see agentmode.runtime_secrets.
    secrets_cache_seconds: int = Field(default=300, ge=0, le=3600)

    agent_queue_url: str = ""
    credits_per_video: int = Field(default=1, ge=0)
    # The runner loop (docs/runner.md): the key of the per-session runner credentials (its own, never the Supabase
    # JWT secret), how long a run may take, and how long it may stay silent before the sweep ends it.
    runner_token_secret: SecretStr = SecretStr("")
    run_max_seconds: int = Field(default=3600, ge=60, le=86_400)
    run_stall_timeout_seconds: int = Field(default=600, ge=30, le=86_400)

    embeddings_provider: Literal["bedrock", "openai", "local"] = "local"
    # One dimension for every environment; it must equal the migration's vector(1024) column.
    embedding_dimension: int = Field(default=1024, ge=1, le=16000)
    embeddings_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    bedrock_embedding_model_id: str = "amazon.titan-embed-text-v2:0"
    openai_base_url: str = "https://api.openai.com"
    openai_api_key: SecretStr = SecretStr("")
    openai_embedding_model: str = "text-embedding-3-small"
    memory_exact_scan_max_rows: int = Field(default=2_000, ge=0)
    memory_ef_search: int = Field(default=64, ge=10, le=1000)

    stripe_webhook_secret: SecretStr = SecretStr("")
    stripe_secret_key: SecretStr = SecretStr("")
    stripe_subscription_price_id: str = ""
    stripe_api_base: str = ""
    stripe_timeout_seconds: float = Field(default=5.0, gt=0, le=20)

    # Seed 000's switches: request bodies in the logs (redacted) and per-request profiles (pyinstrument).
    debug: bool = False
    debug_body_max_bytes: int = Field(default=16_384, ge=256, le=262_144)
    profiling_enabled: bool = False
    profile_output_dir: str = "/tmp/profiles"  # noqa: S108 - Lambda's only writable folder; or s3://bucket/prefix
    profiling_format: Literal["html", "speedscope"] = "html"

    # Empty host: the embedded engine (chDB) under clickhouse_local_path, for `make run` and tests.
    clickhouse_host: str = ""
    clickhouse_port: int = Field(default=8443, ge=1, le=65535)
    clickhouse_user: str = "default"
    clickhouse_password: SecretStr = SecretStr("")
    clickhouse_database: str = "default"
    clickhouse_secure: bool = True
    clickhouse_connect_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    clickhouse_query_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    clickhouse_local_path: str = ".local/clickhouse"
    traces_default_days: int = Field(default=7, ge=1, le=366)
    traces_free_plan_days: int = Field(default=3, ge=1, le=366)
    trace_detail_max_spans: int = Field(default=10_000, ge=1, le=100_000)
    # HMAC key of the trace list's cursors (secret); empty makes the cursor-issuing list answer 503 outside local/test.
    traces_cursor_secret: SecretStr = SecretStr("")

    # Organizations (seed 000 /opsboard): how long an invite stays open, and the web app invite mails link back to.
    invite_expiry_days: int = Field(default=7, ge=1, le=30)
    app_url: str = "http://localhost:5173"
    supabase_auth_timeout_seconds: float = Field(default=3.0, gt=0, le=20)

    # Web app origins CORS allows (comma-separated): API Gateway's CorsAllowOrigins, the local runner's list, and the
    # origins a write authenticated by the session cookie must come from (agentmode.auth.request_token).
    cors_allow_origins: str = "http://localhost:5173"

    def __init__(self, **values: Any) -> None:
        """Each setting from its variable, named in any case (DATABASE_URL), as text its type and bounds check;
        a value given here wins over the variable."""
        variables = {name.lower(): value for name, value in os.environ.items()}
        from_variables = {name: variables[name] for name in type(self).model_fields if name in variables}
        super().__init__(**(from_variables | {name.lower(): value for name, value in values.items()}))

    def allowed_origins(self) -> list[str]:
        return [origin.strip() for origin in self.cors_allow_origins.split(",") if origin.strip()]

    def is_deployed(self) -> bool:
        """A stage in AWS: a setting a local run or a test may leave empty is then required, never silently defaulted."""
        return self.environment not in ("local", "test")

    def expected_issuer(self) -> str:
        """The `iss` every token must carry: the explicit setting, else Supabase's own `{SUPABASE_URL}/auth/v1`."""
        if self.supabase_jwt_issuer:
            return self.supabase_jwt_issuer
        return f"{self.supabase_url.rstrip('/')}/auth/v1" if self.supabase_url else ""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
