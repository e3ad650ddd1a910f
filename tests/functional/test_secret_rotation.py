"""Every secret a function reads at run time is used in its rotated value once SECRETS_CACHE_SECONDS has passed,
without a redeploy or a new container: the webhook secret, the Stripe key, the ClickHouse password,
the OpenAI key and the trace cursor key (the JWT secret and DATABASE_URL: test_secrets_at_run_time.py)."""

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from agentmode.clickhouse import ClickHouse, get_clickhouse
from agentmode.embeddings import OpenAICompatibleEmbedder
from agentmode.runtime_secrets import forget_secrets
from agentmode.settings import get_settings
from opsboard_orgs.invite_mail import send_invite
from stripe_webhook.stripe_api import stripe_api_for
from tests import stripe_stub
from tests.conftest import reset_function_state
from tests.factories import User
from tests.faults.stubs import Reply, ScriptedServer, json_reply
from tests.faults.test_clickhouse_faults import FakeClickHouse
from tests.functional.test_traces_cursor import cursor_payload
from tests.functional.test_traces_list import list_traces
from tests.http_stub import Endpoint, openai_embeddings
from tests.lambda_invoke import invoke
from tests.secrets_extension_stub import SecretsExtensionStub
from tests.supabase_auth_stub import SupabaseAuthStub
from tests.trace_data import NOW, create_project, simple_trace
from traces import cursor as cursors

CACHE_SECONDS = 1
UseSecret = Callable[[str, str], None]


def fresh_container() -> None:
    reset_function_state()
    forget_secrets()


@pytest.fixture
def extension(monkeypatch: pytest.MonkeyPatch) -> Iterator[SecretsExtensionStub]:
    stub = SecretsExtensionStub()
    for name, value in {**stub.environment, "SECRETS_CACHE_SECONDS": str(CACHE_SECONDS)}.items():
        monkeypatch.setenv(name, value)
    yield stub
    stub.close()
    monkeypatch.undo()
    fresh_container()


@pytest.fixture
def use_secret(extension: SecretsExtensionStub, monkeypatch: pytest.MonkeyPatch) -> UseSecret:
    """`use_secret(SETTING, value)`: the setting comes from its secret from now on, as deployed (no plain variable)."""

    def apply(setting: str, value: str) -> None:
        secret_id = f"agentmode/test/{setting}"
        extension.put(secret_id, value)
        monkeypatch.delenv(setting, raising=False)
        monkeypatch.setenv(f"{setting}_SECRET_ID", secret_id)
        fresh_container()

    return apply


def rotate(extension: SecretsExtensionStub, setting: str, value: str) -> None:
    extension.put(f"agentmode/test/{setting}", value)
    time.sleep(CACHE_SECONDS + 0.1)


def test_a_rotated_webhook_secret_verifies_deliveries_once_the_cache_age_has_passed(
    extension: SecretsExtensionStub, use_secret: UseSecret
) -> None:
    use_secret("STRIPE_WEBHOOK_SECRET", "whsec_first")

    def deliver(secret: str) -> int:
        """An event of a type the webhook acknowledges without any other read."""
        raw = json.dumps(stripe_stub.event("invoice.paid", {"id": f"in_{uuid.uuid4().hex[:12]}"})).encode()
        return invoke(
            "POST", "/v4/stripe-webhook", headers={"stripe-signature": stripe_stub.sign(raw, secret)}, raw_body=raw
        ).status

    before = (deliver("whsec_first"), deliver("whsec_rotated"))
    rotate(extension, "STRIPE_WEBHOOK_SECRET", "whsec_rotated")
    after = (deliver("whsec_first"), deliver("whsec_rotated"))

    assert before == (200, 400)
    assert after == (400, 200)


def test_a_rotated_stripe_key_is_sent_once_the_cache_age_has_passed(
    extension: SecretsExtensionStub, use_secret: UseSecret, monkeypatch: pytest.MonkeyPatch
) -> None:
    stripe_api = ScriptedServer(lambda request, index: json_reply({"id": "ch_1", "object": "charge", "customer": "cus_1"}))
    monkeypatch.setenv("STRIPE_API_BASE", stripe_api.url)
    use_secret("STRIPE_SECRET_KEY", "sk_test_first")

    stripe_api_for(get_settings()).charge("ch_1")
    rotate(extension, "STRIPE_SECRET_KEY", "sk_test_rotated")
    stripe_api_for(get_settings()).charge("ch_1")
    stripe_api.close()

    assert [r.headers["authorization"] for r in stripe_api.requests] == ["Bearer sk_test_first", "Bearer sk_test_rotated"]


def test_a_rotated_clickhouse_password_gets_a_new_client_once_the_cache_age_has_passed(
    extension: SecretsExtensionStub, use_secret: UseSecret, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeClickHouse()
    for name, value in {
        "CLICKHOUSE_HOST": "127.0.0.1",
        "CLICKHOUSE_PORT": str(server.port),
        "CLICKHOUSE_SECURE": "false",
    }.items():
        monkeypatch.setenv(name, value)
    use_secret("CLICKHOUSE_PASSWORD", "ch-password-first")

    server.query_reply = Reply(200, b'{"data": []}', {})
    first = get_clickhouse()
    first.query("SELECT 1 FROM otel_traces", {})
    same = get_clickhouse()
    rotate(extension, "CLICKHOUSE_PASSWORD", "ch-password-rotated")
    rotated = get_clickhouse()
    rotated.query("SELECT 1 FROM otel_traces", {})
    server.close()

    passwords = {
        base64.b64decode(r.headers["authorization"].removeprefix("Basic ")).decode().split(":", 1)[1] for r in server.requests
    }
    assert same is first
    assert rotated is not first
    assert passwords == {"ch-password-first", "ch-password-rotated"}


def test_a_rotated_openai_key_is_sent_once_the_cache_age_has_passed(
    extension: SecretsExtensionStub, use_secret: UseSecret, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = Endpoint()
    endpoint.answer = (200, {}, openai_embeddings([0.5] * 1024), 0.0)
    monkeypatch.setenv("OPENAI_BASE_URL", endpoint.url)
    use_secret("OPENAI_API_KEY", "sk-first")
    embedder = OpenAICompatibleEmbedder(get_settings())

    embedder.embed("first")
    rotate(extension, "OPENAI_API_KEY", "sk-rotated")
    embedder.embed("second")
    endpoint.close()

    assert [r["headers"]["authorization"] for r in endpoint.requests] == ["Bearer sk-first", "Bearer sk-rotated"]


def test_a_rotated_cursor_key_signs_cursors_once_the_cache_age_has_passed(
    clickhouse: ClickHouse, admin: psycopg.Connection[Any], user: User, extension: SecretsExtensionStub, use_secret: UseSecret
) -> None:
    project = create_project(admin, user.id)
    for hours in (1, 2):
        simple_trace(clickhouse, project, start=NOW - timedelta(hours=hours))
    use_secret("TRACES_CURSOR_SECRET", "cursor-key-first")

    first = list_traces(user, project, limit=1).body["next_cursor"]
    rotate(extension, "TRACES_CURSOR_SECRET", "cursor-key-rotated")
    rotated = list_traces(user, project, limit=1).body["next_cursor"]
    old_cursor_page = list_traces(user, project, limit=1, cursor=first)

    position = cursors.Cursor.model_validate(cursor_payload(rotated))
    fingerprint = cursors.filters_fingerprint(str(project), None, None)
    assert rotated == cursors.sign(position, fingerprint, b"cursor-key-rotated")
    assert first != rotated
    assert (old_cursor_page.status, old_cursor_page.body["details"]) == (400, {"field": "cursor"})


def test_a_rotated_service_role_key_sends_invites_once_the_cache_age_has_passed(
    extension: SecretsExtensionStub, use_secret: UseSecret, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = SupabaseAuthStub()
    monkeypatch.setenv("SUPABASE_URL", auth.url)
    use_secret("SUPABASE_SERVICE_ROLE_KEY", "service-role-first")

    def invite(email: str) -> str:
        return send_invite(email, org_id=str(uuid.uuid4()), org_name="Acme", role="developer", settings=get_settings())

    outcomes = [invite("first@example.com")]
    rotate(extension, "SUPABASE_SERVICE_ROLE_KEY", "service-role-rotated")
    outcomes.append(invite("second@example.com"))
    auth.close()

    assert outcomes == ["sent", "sent"]
    assert [r["headers"]["apikey"] for r in auth.requests] == ["service-role-first", "service-role-rotated"]
