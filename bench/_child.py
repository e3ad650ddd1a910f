"""The measured side of bench.functions: one fresh interpreter that imports a built `app` and calls its handler.

Run by path as `python -S -P bench/_child.py SPEC RESULT`, with PYTHONPATH set to the built layer and function only:
-S keeps the venv's site-packages out and -P keeps this folder out, so `import app` sees what Lambda would ship.
Only the standard library is used here, for the same reason. SPEC is JSON {mode, function_name, timeout_seconds,
expected, events, net_of}; RESULT receives the timings as JSON (stdout is left to the function's own logs).
"""

import importlib
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
    timeout_seconds: float
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_stream_name: str = "bench"
    _deadline: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # The scheduled functions plan their work by the time left (run_sweeper, seat_sync): the template's Timeout.
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:local:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _context(spec: dict[str, Any]) -> Context:
    return Context(spec["function_name"], spec["timeout_seconds"])


def _check(response: dict[str, Any], expected: dict[str, Any]) -> None:
    """A benchmark of error responses is worthless: stop at the first unexpected answer and show it. `expected` holds
    the keys the handler's answer must carry: {"statusCode": 201} for a route, a report's counts for a schedule."""
    found = {key: response.get(key) for key in expected}
    if found != expected:
        raise SystemExit(f"expected {expected}, got {found}: {response.get('body', response)}")


def _timing_calls(module: str, attribute: str, spent: list[float]) -> None:
    """Wraps `module`.`attribute` (a function, or Class.method) so that each call adds its milliseconds to spent[-1]:
    a call a target is measured without (memory_read's embedding call) is timed inside the request."""
    owner: Any = importlib.import_module(module)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    original = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter_ns()
        try:
            return original(*args, **kwargs)
        finally:
            spent[-1] += _ms(started, time.perf_counter_ns())

    setattr(owner, name, timed)


def _ms(start_ns: int, end_ns: int) -> float:
    return (end_ns - start_ns) / 1e6


def cold(spec: dict[str, Any]) -> dict[str, float]:
    """Import + first invocation, timed separately: what a cold start adds before the first answer leaves Lambda."""
    event, context = spec["events"][0], _context(spec)
    started = time.perf_counter_ns()
    import app  # the import is what is being measured

    imported = time.perf_counter_ns()
    response = app.handler(event, context)
    answered = time.perf_counter_ns()
    _check(response, spec["expected"])
    return {"import_ms": _ms(started, imported), "first_request_ms": _ms(imported, answered), "total_ms": _ms(started, answered)}


def warm(spec: dict[str, Any]) -> dict[str, list[float]]:
    """One untimed warm-up call, then each remaining event timed end to end: event dict in, response dict out.
    With `net_of` [module, attribute], also the time each call spent inside that callable (`excluded_ms`)."""
    import app  # inside the function, as in cold(): nothing of the app loads before the spec is read

    handler: Handler = app.handler
    excluded: list[float] = [0.0]
    if spec.get("net_of"):
        module, attribute = spec["net_of"]
        _timing_calls(module, attribute, excluded)
    first, *events = spec["events"]
    _check(handler(first, _context(spec)), spec["expected"])
    timings: list[float] = []
    for event in events:
        context = _context(spec)
        excluded.append(0.0)
        started = time.perf_counter_ns()
        response = handler(event, context)
        timings.append(_ms(started, time.perf_counter_ns()))
        _check(response, spec["expected"])
    return {"timings_ms": timings, "excluded_ms": excluded[1:]} if spec.get("net_of") else {"timings_ms": timings}


def main() -> None:
    spec_path, result_path = sys.argv[1:3]
    spec = json.loads(Path(spec_path).read_text())
    result = cold(spec) if spec["mode"] == "cold" else warm(spec)
    Path(result_path).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
