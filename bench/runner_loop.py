"""The runner loop's warm routes (issue 14), in-process through the functions' real handlers, with a floor. Rounds
interleave:

    floor         agent_status    GET /agent/status of a session with the user's token: an authenticated route doing
                                  almost nothing
    respond       agent_control   POST /agent/respond: each call answers the open question of a session of its own
    cancel        agent_control   POST /agent/cancel: each call cancels a running session of its own (refunded)
    event_runner  agent_event     POST /agent/event, a reasoning_update, with the session's runner credential
    event_user    agent_event     the same with the user's token, on another session of the same user
    sqs_send      the layer       agentmode.runner_queue.SqsQueue sending one cancel message: the queue client's share
                                  of respond and cancel

Every session a timed call uses is prepared beforehand (bench.runner_loop_sessions). Respond and cancel send their
message inside their transaction through the functions' own SQS client, agentmode.aws_api (AGENT_QUEUE_URL and
AWS_ENDPOINT_URL_SQS) to an SQS stand-in on loopback that answers at once (bench.runner_loop_sqs says why not moto's
server), so SQS's own latency in AWS is not in these figures; each event is broadcast by realtime.send into the local
stand-in of Supabase's realtime schema. Afterwards the bench checks what the calls did: every question answered and
its answer queued, every session cancelled, refunded and its cancel queued, every event logged and broadcast.

Targets (issue 14): respond and cancel warm p50 <= 5 ms; an event with a runner credential no slower than with the
user's token (p50 ratio <= 1.0; the ratio of each round shows the noise).
`python -m bench.runner_loop [--rounds 10 --requests 100] [--publish]`; results: runner_loop.json.
"""

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

from bench.in_process import api_event, interleaved_rounds, percentiles_over_floor, succeeding_call
from bench.machine import machine_info
from bench.results_dir import add_publish_flag, results_dir, shown, write_results
from bench.runner_loop_sessions import Sessions, check_outcomes, embedded_postgres, prepare
from bench.runner_loop_sqs import recording_sqs
from local.apigw_event import build_event
from local.lambda_runtime import Handler, LambdaContext, load_handler, use_layer
from local.runner_queue import AWS_TEST_CREDENTIALS
from local.stack import ROOT
from local.token import mint_token

JWT_SECRET = "bench-secret-for-hs256-tokens-at-least-32-bytes"  # noqa: S105 - a throwaway local secret
RUNNER_SECRET = "bench-secret-of-runner-credentials-32-bytes"  # noqa: S105 - a throwaway local secret
RESULTS_FILE = "runner_loop.json"
TARGET_P50_MS = 5.0
TARGET_RUNNER_OVER_USER = 1.0
TARGETS = {
    f"respond p50 <= {TARGET_P50_MS:g} ms": "respond_met",
    f"cancel p50 <= {TARGET_P50_MS:g} ms": "cancel_met",
    f"event runner/user p50 <= {TARGET_RUNNER_OVER_USER:g}": "event_met",
}
REASONING = "Hooks under three seconds keep viewers: the concepts open on the product."


def json_event(path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    headers = [("authorization", f"Bearer {token}"), ("content-type", "application/json")]
    return build_event(
        method="POST", path=path, raw_query="", headers=headers, body=json.dumps(body).encode(), route_key=f"POST {path}",
        path_parameters={},
    )  # fmt: skip


def each_once(handler: Handler, events: list[dict[str, Any]], context: LambdaContext) -> Callable[[], None]:
    """A call that sends the next of `events` (one per prepared session) and must succeed."""
    pending: Iterator[dict[str, Any]] = iter(events)

    def send() -> None:
        response = handler(next(pending), context)
        assert response["statusCode"] == 200, response

    return send


def queue_send(queue_url: str) -> Callable[[], None]:
    from agentmode.runner_queue import CancelMessage, SqsQueue

    queue = SqsQueue(queue_url)

    def send() -> None:
        queue.send(CancelMessage(session_id=uuid.uuid4(), reason="user"))

    return send


def _variants(sessions: Sessions, token: str, runner_token: str, queue_url: str) -> dict[str, Callable[[], object]]:
    status = load_handler(ROOT / "functions" / "agent_status", "app.handler")
    control = load_handler(ROOT / "functions" / "agent_control", "app.handler")
    event = load_handler(ROOT / "functions" / "agent_event", "app.handler")
    answers = [
        json_event("/agent/respond", token, {"session_id": str(s), "question_seq": 1, "value": "b"}) for s in sessions.asking
    ]
    cancels = [json_event("/agent/cancel", token, {"session_id": str(s)}) for s in sessions.live]

    def reasoning(session: UUID, caller_token: str) -> dict[str, Any]:
        body = {"session_id": str(session), "action_type": "reasoning_update", "reasoning": REASONING}
        return json_event("/agent/event", caller_token, body)

    return {
        "floor": succeeding_call(
            status, api_event("GET", "/agent/status", token, f"session_id={sessions.floor}"),
            LambdaContext(function_name="AgentStatusFunction"),
        ),
        "respond": each_once(control, answers, LambdaContext(function_name="AgentControlFunction")),
        "cancel": each_once(control, cancels, LambdaContext(function_name="AgentControlFunction")),
        "event_runner": succeeding_call(
            event, reasoning(sessions.event_runner, runner_token), LambdaContext(function_name="AgentEventFunction")
        ),
        "event_user": succeeding_call(
            event, reasoning(sessions.event_user, token), LambdaContext(function_name="AgentEventFunction")
        ),
        "sqs_send": queue_send(queue_url),
    }  # fmt: skip


def per_round_ratios(numerator: list[float], denominator: list[float], requests: int) -> list[float]:
    """The p50 ratio within each round: how far the whole run's ratio moves from round to round."""
    medians = [
        (statistics.median(numerator[start : start + requests]), statistics.median(denominator[start : start + requests]))
        for start in range(0, len(numerator), requests)
    ]
    return [round(top / bottom, 3) for top, bottom in medians]


def _environment(database_url: str, sqs_endpoint: str, queue_url: str) -> None:
    os.environ.update(
        DATABASE_URL=database_url, SUPABASE_JWT_SECRET=JWT_SECRET, RUNNER_TOKEN_SECRET=RUNNER_SECRET, ENVIRONMENT="test",
        POWERTOOLS_METRICS_DISABLED="true", POWERTOOLS_LOG_LEVEL="WARNING", SUPABASE_URL="", SUPABASE_JWT_ISSUER="",
        AGENT_QUEUE_URL=queue_url, AWS_ENDPOINT_URL_SQS=sqs_endpoint, **AWS_TEST_CREDENTIALS,
    )  # fmt: skip


def _runner_token(sessions: Sessions) -> str:
    from agentmode import runner_credentials
    from agentmode.settings import get_settings

    return runner_credentials.issue(sessions.event_runner, sessions.user, sessions.event_runner_deadline, get_settings())


def measure(rounds: int, requests: int) -> dict[str, Any]:
    calls = rounds * requests + 1  # and one more: interleaved_rounds' untimed first call
    with (
        tempfile.TemporaryDirectory(prefix="bench-runner-loop-") as tmp,
        embedded_postgres(Path(tmp)) as database_url,
        recording_sqs() as sent,
    ):
        sessions = prepare(database_url, calls)
        _environment(database_url, sent.endpoint, sent.queue_url)
        use_layer()
        token = mint_token(sessions.user, JWT_SECRET, ttl_seconds=86_400)
        variants = _variants(sessions, token, _runner_token(sessions), sent.queue_url)
        started = time.monotonic()
        # With metrics disabled nothing flushes Powertools' metric set, which then prints itself every 100 values:
        # still written, but not over the bench's table.
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            samples = interleaved_rounds(variants, rounds, requests)
        elapsed = time.monotonic() - started
        outcomes = check_outcomes(database_url, sessions, calls, sent)
    return report(samples, requests, outcomes, elapsed)


def report(samples: dict[str, list[float]], requests: int, outcomes: dict[str, int], elapsed: float) -> dict[str, Any]:
    figures = percentiles_over_floor(samples)
    respond, cancel = figures["respond"]["p50_ms"], figures["cancel"]["p50_ms"]
    ratio = round(statistics.median(samples["event_runner"]) / statistics.median(samples["event_user"]), 3)
    return {
        "method": __doc__,
        "machine": machine_info(),
        "requests_per_variant": len(samples["floor"]),
        "seconds": round(elapsed, 1),
        "variants": figures,
        "event_runner_over_user": {
            "p50_ratio": ratio, "per_round": per_round_ratios(samples["event_runner"], samples["event_user"], requests),
        },
        "outcomes": outcomes,
        "target": {
            "respond_p50_max_ms": TARGET_P50_MS, "respond_p50_ms": respond, "respond_met": respond <= TARGET_P50_MS,
            "cancel_p50_max_ms": TARGET_P50_MS, "cancel_p50_ms": cancel, "cancel_met": cancel <= TARGET_P50_MS,
            "event_runner_over_user_max": TARGET_RUNNER_OVER_USER, "event_runner_over_user": ratio,
            "event_met": ratio <= TARGET_RUNNER_OVER_USER,
        },
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="POST /agent/respond, /agent/cancel, /agent/event (runner vs user) warm")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=100)
    add_publish_flag(parser)
    args = parser.parse_args(argv)
    results = measure(args.rounds, args.requests)
    path = results_dir(args.publish) / RESULTS_FILE
    write_results(results, path)
    for name, figure in results["variants"].items():
        print(f"{name:13} p50 {figure['p50_ms']:.3f} ms  p99 {figure['p99_ms']:.3f} ms  x{figure['p50_over_floor']:.2f} of floor")
    ratio, target = results["event_runner_over_user"], results["target"]
    spread = f"{min(ratio['per_round']):.3f}-{max(ratio['per_round']):.3f}"
    print(f"event runner/user p50 ratio {ratio['p50_ratio']:.3f} (per round {spread})")
    for name, met in TARGETS.items():
        print(f"target {name}: {'met' if target[met] else 'NOT met'}")
    print(f"wrote {shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
