"""The deployable artefacts: `sam validate --lint`, `sam build` without a container, and each built function run
from the build output alone (fresh process, PYTHONPATH = built layer + built function), as Lambda loads it."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from local.build import BUILD_DIR, SAM, build
from local.devconfig import DEV_JWT_SECRET, DEV_RUNNER_TOKEN_SECRET, DEV_STRIPE_WEBHOOK_SECRET
from local.make_events import stripe_signature_header
from local.seed import seed_demo
from local.stack import ROOT
from tests.http_stub import Endpoint, openai_embeddings
from tests.lambda_invoke import load_event

pytestmark = pytest.mark.build

RUNNER = r"""
import json, sys, time
from dataclasses import dataclass

@dataclass
class Context:
    function_name: str = "built"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:built"
    aws_request_id: str = "built-request"

event = json.load(sys.stdin)
import app
response = app.handler(event, Context())
print(json.dumps({
    "status": response["statusCode"],
    "body": json.loads(response["body"]),
    "loaded": sorted(name for name in ("boto3", "botocore.session", "stripe", "clickhouse_connect") if name in sys.modules),
    "paths": sorted({m.__file__.split("/python/")[0] for m in list(sys.modules.values())
                     if m.__name__.startswith("agentmode") and "/python/" in (getattr(m, "__file__", None) or "")}),
}))
"""
FUNCTIONS: dict[str, tuple[str, int | tuple[int, ...]]] = {
    "AgentStartFunction": ("agent_start_post.json", 201),
    "AgentEventFunction": ("agent_event_post.json", 200),
    "AgentStatusFunction": ("agent_status_get.json", 200),
    "StripeWebhookFunction": ("v4_stripe-webhook_post.json", 200),
    "MemoryWriteFunction": ("agent_write-memory_post.json", (200, 201)),
    "MemoryReadFunction": ("agent_read-memory_get.json", 200),
    "OpsboardUsersFunction": ("opsboard_users_me_get.json", 200),
    "OpsboardProjectsFunction": ("opsboard_projects_get.json", 200),
    "OpsboardOrgsFunction": ("opsboard_orgs_get.json", 200),
    # The demo organization has no subscription: authorised and answered in Postgres, before any Stripe call.
    "OpsboardBillingFunction": ("opsboard_orgs_org_id_cancel-subscription_post.json", 409),
}


def sam(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    return subprocess.run(  # noqa: S603 - our own SAM CLI
        [SAM, *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=900, check=False
    )


@pytest.fixture(scope="module")
def built() -> Path:
    return build()


@pytest.fixture(scope="module")
def embeddings_endpoint() -> Iterator[Endpoint]:
    """The built memory functions have no torch: they embed through the OpenAI-compatible provider, served here."""
    endpoint = Endpoint()
    endpoint.answer = (200, {}, openai_embeddings([0.03] * 1024), 0.0)
    yield endpoint
    endpoint.close()


def run_built(
    function: str, event: dict[str, Any], database_url: str, embeddings_url: str = "", extra_env: dict[str, str] | None = None
) -> dict[str, Any]:
    env = {
        **(extra_env or {}),
        "EMBEDDINGS_PROVIDER": "openai",
        "OPENAI_BASE_URL": embeddings_url,
        "OPENAI_API_KEY": "sk-build-test",
        "PATH": os.environ["PATH"],
        # Lambda's order: the function's folder (/var/task) before the layer (/opt/python); nothing written back.
        "PYTHONPATH": f"{BUILD_DIR / function}:{BUILD_DIR / 'CommonLayer' / 'python'}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "DATABASE_URL": database_url,
        "SUPABASE_JWT_SECRET": DEV_JWT_SECRET,
        "STRIPE_WEBHOOK_SECRET": DEV_STRIPE_WEBHOOK_SECRET,
        "RUNNER_TOKEN_SECRET": DEV_RUNNER_TOKEN_SECRET,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    result = subprocess.run(  # noqa: S603 - runs the built function with this interpreter
        [sys.executable, "-c", RUNNER],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env=env,
        cwd=BUILD_DIR / function,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return output


def test_template_passes_sam_validate_lint() -> None:
    result = sam("validate", "--lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_layer_lands_on_opt_python(built: Path) -> None:
    assert (built / "CommonLayer" / "python" / "agentmode" / "errors.py").is_file()
    assert (built / "CommonLayer" / "python" / "fastapi").is_dir()


def test_build_ships_bytecode_for_every_module(built: Path) -> None:
    sources = [p for p in built.rglob("*.py") if "__pycache__" not in p.parts]
    compiled = {p.parent.parent / (p.name.split(".")[0] + ".py") for p in built.rglob("__pycache__/*.cpython-311.pyc")}
    assert sources
    assert [p for p in sources if p not in compiled] == []


STRIPE_USERS = {"StripeWebhookFunction", "OpsboardBillingFunction", "OpsboardOrgsFunction", "SeatSyncFunction"}


def test_each_sdk_ships_only_with_the_function_that_uses_it(built: Path) -> None:
    folders = {path.name for path in built.iterdir() if (path / "app.py").exists()} | {"CommonLayer/python"}
    # SQS (the runner queue) and Bedrock (embeddings) go through agentmode.aws_api: no function ships the AWS SDK;
    # ClickHouse's HTTP interface through agentmode.clickhouse: none ships clickhouse-connect.
    shipped = ("botocore", "boto3", "clickhouse_connect")
    assert [folder for folder in folders if any((built / folder / name).exists() for name in shipped)] == []
    assert {folder for folder in folders if (built / folder / "stripe").is_dir()} == STRIPE_USERS
    assert {folder for folder in folders if (built / folder / "supabase").is_dir()} == {"OpsboardOrgsFunction"}


def _distributions(folder: Path) -> dict[str, str]:
    """{project name: version} of the packages pip installed into `folder` (their .dist-info directories)."""
    found = (path.name.removesuffix(".dist-info").rsplit("-", 1) for path in folder.glob("*.dist-info"))
    return {name.lower().replace("-", "_"): version for name, version in found}


def test_no_function_ships_a_package_the_layer_has(built: Path) -> None:
    """A function's folder comes first on the path, so its copy of a layer package would be the one imported (supabase
    pulls pydantic, PyJWT and cryptography into opsboard_orgs): local.build.drop_layer_packages takes them out."""
    layer = _distributions(built / "CommonLayer" / "python")
    assert "supabase" in _distributions(built / "OpsboardOrgsFunction")
    for folder in sorted(path for path in built.iterdir() if (path / "app.py").exists()):
        assert sorted(set(_distributions(folder)) & set(layer)) == [], folder.name


def test_built_seat_sync_runs_its_schedule_from_the_build_output_alone(built: Path, database_url: str) -> None:
    """Nothing pending in a fresh database: the run reads Postgres and makes no Stripe call (none is configured)."""
    code = (
        "import json, app; from dataclasses import dataclass\n"
        "@dataclass\nclass C:\n    function_name: str = 'built'\n    memory_limit_in_mb: int = 512\n"
        "    invoked_function_arn: str = 'arn:aws:lambda:local:000000000000:function:built'\n"
        "    aws_request_id: str = 'r'\n    def get_remaining_time_in_millis(self) -> int: return 60000\n"
        "print(json.dumps(app.handler({'source': 'aws.scheduler'}, C())))"
    )
    env = {
        "PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1", "DATABASE_URL": database_url,
        "PYTHONPATH": f"{BUILD_DIR / 'SeatSyncFunction'}:{BUILD_DIR / 'CommonLayer' / 'python'}",
        "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_TRACE_DISABLED": "true",
    }  # fmt: skip
    result = subprocess.run(  # noqa: S603 - runs the built function with this interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=BUILD_DIR / "SeatSyncFunction",
        timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"synced": 0, "failed": 0}


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_built_function_answers_from_the_build_output_alone(
    built: Path, function: str, database_url: str, admin: psycopg.Connection[Any], embeddings_endpoint: Endpoint
) -> None:
    seed_demo(database_url)
    event_file, status = FUNCTIONS[function]
    event = load_event(event_file)
    if "stripe-signature" in event["headers"]:
        event["headers"]["stripe-signature"] = stripe_signature_header(event["body"].encode(), DEV_STRIPE_WEBHOOK_SECRET)
    output = run_built(function, event, database_url, embeddings_endpoint.url)
    assert output["status"] in (status if isinstance(status, tuple) else (status,)), output["body"]
    assert output["paths"] == [str(built / "CommonLayer")]


def test_built_traces_function_reads_postgres_then_reports_an_unreachable_clickhouse(built: Path, database_url: str) -> None:
    """No ClickHouse server runs here (chDB is in-process, dev only): a closed port proves the built function
    authorizes the project in Postgres and turns the failed connection into a 503, with no ClickHouse driver."""
    seed_demo(database_url)
    event = load_event("v4_traces_get.json")
    output = run_built("TracesFunction", event, database_url, extra_env={"CLICKHOUSE_HOST": "127.0.0.1", "CLICKHOUSE_PORT": "9"})
    assert (output["status"], output["body"]["error_code"]) == (503, "SERVICE_UNAVAILABLE")
    assert output["loaded"] == []
    assert not (built / "TracesFunction" / "chdb").exists()


@pytest.mark.parametrize("function", ["AgentEventFunction", "AgentStatusFunction"])
def test_functions_without_aws_calls_do_not_load_an_aws_sdk(built: Path, function: str, database_url: str) -> None:
    seed_demo(database_url)
    event_file, _ = FUNCTIONS[function]
    assert run_built(function, load_event(event_file), database_url)["loaded"] == []
