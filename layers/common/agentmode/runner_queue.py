"""The runner queue (docs/runner.md): the start, answer and cancel messages agent runners consume, on SQS FIFO with
the session as message group, so a session's messages arrive in the order they were sent and an answer never
overtakes its start; another session's are not held up behind them.

Each message is sent inside the transaction that records it, before the commit: if SQS refuses, nothing is written
and the caller gets 503; if the commit fails after a send, the runner finds the session not in that state (it
confirms with GET /agent/status) and drops the message. A retry of the same message within SQS's five-minute
deduplication window is delivered once (its deduplication id is the message's own identity).
"""

import hashlib
from datetime import datetime
from typing import Annotated, Literal, Protocol
from uuid import UUID

from pydantic import BaseModel, Field

from agentmode.aws_api import AwsCallFailed, AwsEndpoint
from agentmode.errors import AppError, ErrorCode
from agentmode.observability import logger
from agentmode.settings import get_settings

SQS_RETRY_AFTER_MS = 2000
MESSAGE_VERSION: Literal[1] = 1


class Constraints(BaseModel):
    max_videos: int
    max_duration_seconds: int
    aspect_ratio: str


class RunnerCredential(BaseModel):
    token: str = Field(description="Bearer token for this session's runner routes (docs/runner.md); never log it.")
    expires_at: datetime


class StartMessage(BaseModel):
    version: Literal[1] = MESSAGE_VERSION
    type: Literal["start"] = "start"
    session_id: UUID
    user_id: UUID
    goal: str
    reference_video_url: str | None
    constraints: Constraints
    deadline_at: datetime
    credential: RunnerCredential

    def deduplication_id(self) -> str:
        return f"start:{self.session_id}"


class AnswerMessage(BaseModel):
    version: Literal[1] = MESSAGE_VERSION
    type: Literal["answer"] = "answer"
    session_id: UUID
    question_seq: int = Field(description="The seq of the user_input_required event answered.")
    value: str
    answered_by: Literal["user", "timeout"]

    def deduplication_id(self) -> str:
        return f"answer:{self.session_id}:{self.question_seq}"


class CancelMessage(BaseModel):
    version: Literal[1] = MESSAGE_VERSION
    type: Literal["cancel"] = "cancel"
    session_id: UUID
    reason: Literal["user", "stalled", "deadline"]

    def deduplication_id(self) -> str:
        return f"cancel:{self.session_id}"


RunnerMessage = Annotated[StartMessage | AnswerMessage | CancelMessage, Field(discriminator="type")]


class RunnerQueue(Protocol):
    def send(self, message: StartMessage | AnswerMessage | CancelMessage) -> None: ...


class SqsQueue:
    # Short timeouts and two attempts in all keep a failing SQS well inside the function's timeout (2 x 3 s of 10 s).
    endpoint = AwsEndpoint(service_id="SQS", host_prefix="sqs", signing_name="sqs", connect_timeout=2, read_timeout=3, attempts=2)

    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def send(self, message: StartMessage | AnswerMessage | CancelMessage) -> None:
        body = message.model_dump_json()
        try:
            sent = self.endpoint.post_json(
                "/",
                {
                    "QueueUrl": self.queue_url,
                    "MessageBody": body,
                    "MessageGroupId": str(message.session_id),
                    "MessageDeduplicationId": message.deduplication_id(),
                },
                {"content-type": "application/x-amz-json-1.0", "x-amz-target": "AmazonSQS.SendMessage"},
            )
            # As botocore does: a body altered on the way is not a message sent.
            if sent.get("MD5OfMessageBody") != hashlib.md5(body.encode()).hexdigest():  # noqa: S324 - SQS's checksum
                raise AwsCallFailed("MD5Mismatch", None)
        except AwsCallFailed as failed:
            logger.warning(
                "runner queue send failed",
                extra={"error_code": failed.code, "message_type": message.type, "session_id": str(message.session_id)},
            )
            raise AppError(
                ErrorCode.SERVICE_UNAVAILABLE,
                details={"service": "agent_queue", "retry_after_ms": SQS_RETRY_AFTER_MS},
            ) from None


class LogQueue:
    """Used when AGENT_QUEUE_URL is unset (the local stack without a runner): each message is logged, not queued."""

    def send(self, message: StartMessage | AnswerMessage | CancelMessage) -> None:
        logger.info(
            "runner message (no AGENT_QUEUE_URL: not queued)",
            extra={"message_type": message.type, "session_id": str(message.session_id)},
        )


_queue: RunnerQueue | None = None


def get_queue() -> RunnerQueue:
    global _queue
    if _queue is None:
        settings = get_settings()
        if not settings.agent_queue_url and settings.is_deployed():
            # Logging the message instead would debit credits for a run no runner ever receives.
            logger.error("AGENT_QUEUE_URL is not set: runs cannot be queued", extra={"setting": "AGENT_QUEUE_URL"})
            raise AppError(ErrorCode.SERVICE_UNAVAILABLE, details={"service": "agent_queue", "reason": "not configured"})
        url = settings.agent_queue_url
        _queue = SqsQueue(url) if url else LogQueue()
    return _queue
