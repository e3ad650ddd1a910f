"""What the in-process /opsboard benches share: an API Gateway event, a handler call that must succeed, figures."""

import statistics
import time
from collections.abc import Callable
from typing import Any

from local.apigw_event import build_event
from local.lambda_runtime import LambdaContext


def api_event(method: str, path: str, token: str, raw_query: str = "") -> dict[str, Any]:
    return build_event(
        method=method, path=path, raw_query=raw_query, headers=[("authorization", f"Bearer {token}")], body=b"",
        route_key=f"{method} {path}", path_parameters={},
    )  # fmt: skip


def succeeding_call(handler: Callable[..., dict[str, Any]], event: dict[str, Any], context: LambdaContext) -> Callable[[], None]:
    def send() -> None:
        response = handler(dict(event), context)
        assert response["statusCode"] == 200, response

    return send


def percentiles_over_floor(samples: dict[str, list[float]], floor_name: str = "floor") -> dict[str, dict[str, float]]:
    floor = statistics.median(samples[floor_name])
    return {
        name: {
            "p50_ms": round(statistics.median(values), 3),
            "p99_ms": round(statistics.quantiles(values, n=100)[98], 3),
            "p50_over_floor": round(statistics.median(values) / floor, 2),
        }
        for name, values in samples.items()
    }


def interleaved_rounds(variants: dict[str, Callable[[], object]], rounds: int, requests: int) -> dict[str, list[float]]:
    """Each variant called once untimed (connections opened, caches filled), then `rounds` rounds of `requests` timed
    calls of each in turn, so drift on the machine spreads evenly over them. Milliseconds per call."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for call in variants.values():
        call()
    for _ in range(rounds):
        for name, call in variants.items():
            for _ in range(requests):
                started = time.perf_counter()
                call()
                samples[name].append((time.perf_counter() - started) * 1000)
    return samples
