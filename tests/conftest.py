"""Session-wide real parts: one embedded Postgres with the migrations applied, and the env the functions read."""

import os
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from agentmode.clickhouse import ClickHouse
from local.devconfig import DEV_JWT_ISSUER
from local.runner_queue import moto_sqs
from local.stack import apply_migrations, start_postgres
from tests.factories import TEST_JWT_SECRET, TEST_RUNNER_SECRET, User, create_user
from tests.log_capture import LogOutput, captured_logs
from tests.runner_support import RunnerQueueReader, fifo_queue

PRODUCTION_MARKERS = ("AWS_LAMBDA_FUNCTION_NAME", "AGENT_QUEUE_URL")
# Read at import by Powertools, so set before any test module imports the layer.
os.environ.update(
    POWERTOOLS_SERVICE_NAME="agentmode-test",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_METRICS_DISABLED="true",
    AWS_DEFAULT_REGION="us-east-1",
)


def _refuse_production_environment() -> None:
    found = [name for name in PRODUCTION_MARKERS if os.environ.get(name)]
    if found:
        pytest.exit(f"refusing to run tests with production settings present: {', '.join(found)}", returncode=2)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    _refuse_production_environment()
    url = start_postgres(tmp_path_factory.mktemp("pg"))
    apply_migrations(url)
    return url


@pytest.fixture(scope="session", autouse=True)
def function_environment(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """What template.yaml's Environment gives a deployed function, pointed at the embedded stack."""
    values = {
        "DATABASE_URL": database_url,
        # chDB starts on first use (the traces tests), under this folder.
        "CLICKHOUSE_LOCAL_PATH": str(tmp_path_factory.mktemp("clickhouse")),
        "ENVIRONMENT": "test",
        "SUPABASE_JWT_SECRET": TEST_JWT_SECRET,
        "RUNNER_TOKEN_SECRET": TEST_RUNNER_SECRET,
        "SUPABASE_URL": "",
        # Tests point SUPABASE_URL at loopback stand-ins; the issuer their tokens carry stays Supabase CLI's local one.
        "SUPABASE_JWT_ISSUER": DEV_JWT_ISSUER,
        "SUPABASE_SERVICE_ROLE_KEY": "",
        "LOCAL_ACCESS_LOG": "0",
    }
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    reset_function_state()
    yield
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    reset_function_state()


def reset_function_state() -> None:
    """A fresh container: settings and secrets re-read, connection reopened."""
    from agentmode import clickhouse, db, runtime_secrets
    from agentmode.settings import get_settings

    get_settings.cache_clear()
    runtime_secrets.forget_secrets()
    db.close_connection()
    clickhouse.forget_remote_clients()


@pytest.fixture(scope="session")
def clickhouse(function_environment: None) -> Iterator[ClickHouse]:
    """The embedded ClickHouse the traces function reads, with the schema in clickhouse/ applied."""
    from agentmode.clickhouse import close_embedded, get_clickhouse
    from local.clickhouse_schema import apply_schema

    ch = get_clickhouse()
    apply_schema(ch)
    yield ch
    close_embedded()


@pytest.fixture(scope="session")
def admin(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A superuser connection (RLS does not apply) to arrange rows and check outcomes."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def logs() -> Iterator[LogOutput]:
    """The functions' log lines written during the test."""
    with captured_logs() as output:
        yield output


@pytest.fixture
def user(admin: psycopg.Connection[Any]) -> User:
    return create_user(admin)


@pytest.fixture
def other_user(admin: psycopg.Connection[Any]) -> User:
    return create_user(admin)


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """The local runner (`make run`'s server) on a free loopback port, serving the real handlers."""
    from local.server import make_server

    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def sqs_endpoint() -> Iterator[str]:
    """moto's SQS server, started once: a test takes a queue of its own on it."""
    with moto_sqs() as endpoint:
        yield endpoint


@pytest.fixture
def runner_queue(monkeypatch: pytest.MonkeyPatch, sqs_endpoint: str) -> RunnerQueueReader:
    """A FIFO runner queue of the test's own, wired in as AGENT_QUEUE_URL is deployed."""
    return fifo_queue(monkeypatch, sqs_endpoint)
