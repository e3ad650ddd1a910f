"""The measured side of bench.functions: one fresh interpreter that imports a built `app` and calls its handler.

Run by path as `python -S -P bench/_child.py SPEC RESULT`, with PYTHONPATH set to the built layer and function only:
-S keeps the venv's site-packages out and -P keeps this folder out, so `import app` sees what Lambda would ship.
Only the standard library is used here, for the same reason. SPEC is JSON {mode, function_name, expected_status,
events}; RESULT receives the timings as JSON (stdout is left to the function's own logs).
"""

import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class Context:
    """What Powertools and Mangum read from the Lambda context (local.lambda_runtime's is not importable here)."""

    function_name: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_stream_name: str = "bench"
    _deadline: float = field(default_factory=lambda: time.monotonic() + 10, repr=False)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:local:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _check(response: dict[str, Any], expected_status: int) -> None:
    """A benchmark of error responses is worthless: stop at the first unexpected status and show its body."""
    if response.get("statusCode") != expected_status:
        raise SystemExit(f"expected HTTP {expected_status}, got {response.get('statusCode')}: {response.get('body')}")


def _ms(start_ns: int, end_ns: int) -> float:
    return (end_ns - start_ns) / 1e6


def cold(spec: dict[str, Any]) -> dict[str, float]:
    """Import + first invocation, timed separately: what a cold start adds before the first answer leaves Lambda."""
    event, context = spec["events"][0], Context(spec["function_name"])
    started = time.perf_counter_ns()
    import app  # the import is what is being measured

    imported = time.perf_counter_ns()
    response = app.handler(event, context)
    answered = time.perf_counter_ns()
    _check(response, spec["expected_status"])
    return {"import_ms": _ms(started, imported), "first_request_ms": _ms(imported, answered), "total_ms": _ms(started, answered)}


def warm(spec: dict[str, Any]) -> dict[str, list[float]]:
    """One untimed warm-up call, then each remaining event timed end to end: event dict in, response dict out."""
    import app  # inside the function, as in cold(): nothing of the app loads before the spec is read

    handler: Handler = app.handler
    first, *events = spec["events"]
    _check(handler(first, Context(spec["function_name"])), spec["expected_status"])
    timings: list[float] = []
    for event in events:
        context = Context(spec["function_name"])
        started = time.perf_counter_ns()
        response = handler(event, context)
        timings.append(_ms(started, time.perf_counter_ns()))
        _check(response, spec["expected_status"])
    return {"timings_ms": timings}


def main() -> None:
    spec_path, result_path = sys.argv[1:3]
    spec = json.loads(Path(spec_path).read_text())
    result = cold(spec) if spec["mode"] == "cold" else warm(spec)
    Path(result_path).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
