"""agentmode.aws_api, the functions' SigV4 client for SQS and Bedrock: its signature is botocore's, its endpoint and
credentials come from where botocore reads them, AWS's error shapes are understood, and its connection is kept."""

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

from agentmode.aws_api import AwsCallFailed, AwsEndpoint, Credentials, endpoint_url, error_code, sign
from local.stack import ROOT
from tests.faults.stubs import BlackHole, Reply, ScriptedServer, json_reply

LAYER = ROOT / "layers" / "common"
NOW = datetime(2026, 12, 2, 10, 30, 5, tzinfo=UTC)
SQS_URL = "https://sqs.eu-west-1.amazonaws.com/"
BEDROCK_URL = "https://bedrock-runtime.eu-west-1.amazonaws.com/model/amazon.titan-embed-text-v2%3A0/invoke"


def botocore_authorization(
    url: str, headers: dict[str, str], body: bytes, service: str, creds: Credentials, monkeypatch: Any
) -> str:
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: NOW.replace(tzinfo=None))
    request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    SigV4Auth(BotocoreCredentials(creds.access_key, creds.secret_key, creds.session_token), service, "eu-west-1").add_auth(
        request
    )
    return str(request.headers["Authorization"])


@pytest.mark.parametrize("token", [None, "session-token-of-the-lambda-role"], ids=["long-term", "temporary"])
def test_an_sqs_send_is_signed_as_botocore_signs_it(monkeypatch: pytest.MonkeyPatch, token: str | None) -> None:
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    headers = {"content-type": "application/x-amz-json-1.0", "x-amz-target": "AmazonSQS.SendMessage"}
    body = b'{"QueueUrl": "https://sqs.eu-west-1.amazonaws.com/1/q.fifo", "MessageBody": "{}"}'
    ours = sign("POST", SQS_URL, headers, body, service="sqs", region="eu-west-1", credentials=creds, now=NOW)
    assert ours["authorization"] == botocore_authorization(SQS_URL, headers, body, "sqs", creds, monkeypatch)
    assert ("x-amz-security-token" in ours) is (token is not None)


def test_a_bedrock_path_with_an_encoded_colon_is_signed_as_botocore_signs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    creds = Credentials("AKIDEXAMPLE", "secret", "token")
    headers = {"content-type": "application/json", "accept": "application/json"}
    body = b'{"inputText": "hello", "dimensions": 1024, "normalize": true}'
    ours = sign("POST", BEDROCK_URL, headers, body, service="bedrock", region="eu-west-1", credentials=creds, now=NOW)
    assert ours["authorization"] == botocore_authorization(BEDROCK_URL, headers, body, "bedrock", creds, monkeypatch)


def test_the_endpoint_is_the_service_setting_then_the_global_one_then_the_regions(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert endpoint_url("SQS", "sqs") == "https://sqs.eu-central-1.amazonaws.com"
    monkeypatch.setenv("AWS_REGION", "cn-north-1")
    assert endpoint_url("SQS", "sqs") == "https://sqs.cn-north-1.amazonaws.com.cn"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566/")
    assert endpoint_url("SQS", "sqs") == "http://127.0.0.1:4566"
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:5000")
    assert endpoint_url("SQS", "sqs") == "http://127.0.0.1:5000"


@pytest.mark.parametrize(
    ("header", "body", "code"),
    [
        (None, b'{"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "x"}', "QueueDoesNotExist"),
        ("ThrottlingException:http://internal.amazon.com/", b"{}", "ThrottlingException"),
        (None, b'{"__type": "ValidationException"}', "ValidationException"),
        (None, b"<html>502 Bad Gateway</html>", "UnknownError"),
    ],
)
def test_aws_json_error_shapes_give_their_code(header: str | None, body: bytes, code: str) -> None:
    assert error_code(header, body) == code


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    answering = ScriptedServer(lambda request, index: json_reply({"echo": json.loads(request.body)}))
    yield answering
    answering.close()


def endpoint(attempts: int = 2, timeout: float = 1.0) -> AwsEndpoint:
    return AwsEndpoint(
        service_id="SQS", host_prefix="sqs", signing_name="sqs", connect_timeout=timeout, read_timeout=timeout, attempts=attempts
    )


def test_calls_reuse_one_kept_connection(monkeypatch: pytest.MonkeyPatch, aws_env: None, server: ScriptedServer) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", server.url)
    sqs = endpoint()
    connections = []
    for n in range(3):
        assert sqs.post_json("/", {"n": n}, {"content-type": "application/x-amz-json-1.0"}) == {"echo": {"n": n}}
        connections.append(id(sqs._connection._local.connection))
    assert len(set(connections)) == 1
    assert [r.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/") for r in server.requests] == [True] * 3


def test_a_kept_connection_the_peer_closed_is_reopened_without_spending_an_attempt(
    monkeypatch: pytest.MonkeyPatch, aws_env: None, server: ScriptedServer
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", server.url)
    sqs = endpoint(attempts=1)
    sqs.post_json("/", {"n": 1}, {})
    sqs._connection._local.connection.sock.shutdown(socket.SHUT_RDWR)  # as an idle connection dropped between invocations
    assert sqs.post_json("/", {"n": 2}, {}) == {"echo": {"n": 2}}


def test_a_throttled_call_is_retried_and_then_reported_with_its_code(monkeypatch: pytest.MonkeyPatch, aws_env: None) -> None:
    throttled = Reply(400, b'{"__type": "com.amazonaws.sqs#RequestThrottled"}', {"content-type": "application/x-amz-json-1.0"})
    failing = ScriptedServer(lambda request, index: throttled)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", failing.url)
    try:
        with pytest.raises(AwsCallFailed) as failed:
            endpoint(attempts=2).post_json("/", {}, {})
    finally:
        failing.close()
    assert (failed.value.code, failed.value.status, len(failing.requests)) == ("RequestThrottled", 400, 2)


def test_a_client_error_is_not_retried(monkeypatch: pytest.MonkeyPatch, aws_env: None) -> None:
    missing = json_reply({"__type": "com.amazonaws.sqs#QueueDoesNotExist"}, 400)
    failing = ScriptedServer(lambda request, index: missing)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", failing.url)
    try:
        with pytest.raises(AwsCallFailed) as failed:
            endpoint(attempts=2).post_json("/", {}, {})
    finally:
        failing.close()
    assert (failed.value.code, len(failing.requests)) == ("QueueDoesNotExist", 1)


def test_a_hung_service_times_out_on_each_attempt(monkeypatch: pytest.MonkeyPatch, aws_env: None) -> None:
    hole = BlackHole()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", hole.url)
    try:
        with pytest.raises(AwsCallFailed) as failed:
            endpoint(attempts=2, timeout=0.2).post_json("/", {}, {})
    finally:
        hole.close()
    assert failed.value.timed_out
    assert hole.accepted == 2


def test_missing_credentials_fail_the_call_without_sending(monkeypatch: pytest.MonkeyPatch, server: ScriptedServer) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", server.url)
    with pytest.raises(AwsCallFailed) as failed:
        endpoint().post_json("/", {}, {})
    assert failed.value.code == "MissingCredentials"
    assert server.requests == []


def test_the_queue_and_the_embeddings_load_no_aws_sdk() -> None:
    """The point of the module: a function that sends to SQS or asks Bedrock does not pay botocore's cold start."""
    probe = "import sys, agentmode.runner_queue, agentmode.embeddings; print(' '.join(sorted(sys.modules)))"
    loaded = subprocess.run(  # noqa: S603 - this interpreter on a fixed snippet
        [sys.executable, "-c", probe], env={**os.environ, "PYTHONPATH": str(LAYER)}, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "agentmode.aws_api" in loaded
    # Powertools imports botocore's bare package (for its user agent); the SDK's weight is its client and session.
    assert [name for name in loaded if name.startswith(("boto3", "botocore.client", "botocore.session"))] == []
