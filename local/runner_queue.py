"""The runner queue on this machine: moto's SQS on a loopback port with one FIFO queue, so the functions' real SQS
client sends to it and a runner (local/reference_runner.py) receives from it as it would from AWS."""

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3

AWS_TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass(frozen=True)
class LocalQueue:
    endpoint: str
    url: str

    def client(self) -> Any:
        return boto3.client(
            "sqs",
            endpoint_url=self.endpoint,
            region_name=AWS_TEST_CREDENTIALS["AWS_DEFAULT_REGION"],
            aws_access_key_id=AWS_TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS_TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def environment(self) -> dict[str, str]:
        """What template.yaml and Lambda give a function that sends to the queue, pointed here."""
        return {**AWS_TEST_CREDENTIALS, "AGENT_QUEUE_URL": self.url, "AWS_ENDPOINT_URL_SQS": self.endpoint}


@contextlib.contextmanager
def moto_sqs() -> Iterator[str]:
    """moto's SQS server on a free loopback port; yields its endpoint."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def fifo_queue_on(endpoint: str, name: str = "agent-queue.fifo") -> LocalQueue:
    created = LocalQueue(endpoint, "").client().create_queue(QueueName=name, Attributes={"FifoQueue": "true"})
    return LocalQueue(endpoint, created["QueueUrl"])


@contextlib.contextmanager
def local_fifo_queue(name: str = "agent-queue.fifo") -> Iterator[LocalQueue]:
    with moto_sqs() as endpoint:
        yield fifo_queue_on(endpoint, name)
