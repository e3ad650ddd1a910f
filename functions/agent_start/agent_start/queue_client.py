"""Hands a started session to the agent workers through SQS (or, locally, to the log)."""

from typing import Protocol

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from agent_start.schemas import StartMessage
from agentmode.errors import AppError, ErrorCode
from agentmode.observability import logger
from agentmode.settings import get_settings

SQS_RETRY_AFTER_MS = 2000


class AgentQueue(Protocol):
    def send(self, message: StartMessage) -> None: ...


class SqsQueue:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url
        # Short timeouts and a bounded retry keep a failing SQS well inside the function's timeout: two attempts in all
        # (botocore's `max_attempts` counts retries after the first, so 2 there meant 3 tries: 3 x 3 s ~ 9.2 s of 10).
        config = Config(connect_timeout=2, read_timeout=3, retries={"total_max_attempts": 2, "mode": "standard"})
        self.client = botocore.session.get_session().create_client("sqs", config=config)

    def send(self, message: StartMessage) -> None:
        try:
            self.client.send_message(QueueUrl=self.queue_url, MessageBody=message.model_dump_json())
        except (BotoCoreError, ClientError) as exc:
            logger.warning(
                "agent queue send failed", extra={"error_type": type(exc).__name__, "session_id": str(message.session_id)}
            )
            raise AppError(
                ErrorCode.SERVICE_UNAVAILABLE,
                details={"service": "agent_queue", "retry_after_ms": SQS_RETRY_AFTER_MS},
            ) from None


class LogQueue:
    """Used when AGENT_QUEUE_URL is unset (the local stack): the session is created and its start message logged."""

    def send(self, message: StartMessage) -> None:
        logger.info("agent start message (no AGENT_QUEUE_URL: not queued)", extra={"session_id": str(message.session_id)})


_queue: AgentQueue | None = None


def get_queue() -> AgentQueue:
    global _queue
    if _queue is None:
        settings = get_settings()
        if not settings.agent_queue_url and settings.is_deployed():
            # Logging the message instead would debit credits for a run no worker ever receives.
            logger.error("AGENT_QUEUE_URL is not set: runs cannot be queued", extra={"setting": "AGENT_QUEUE_URL"})
            raise AppError(ErrorCode.SERVICE_UNAVAILABLE, details={"service": "agent_queue", "reason": "not configured"})
        url = settings.agent_queue_url
        _queue = SqsQueue(url) if url else LogQueue()
    return _queue
