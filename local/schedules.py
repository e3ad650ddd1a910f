"""EventBridge Scheduler's part on this machine: a scheduled function's handler called on a timer, in a thread."""

import threading
from collections.abc import Callable

from local.lambda_runtime import LambdaContext, load_handler
from local.stack import ROOT

SCHEDULED_EVENT = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.scheduler", "detail": {}}


def every(seconds: float, function: str, name: str, timeout_seconds: int = 50) -> Callable[[], None]:
    """Calls `functions/<function>`'s handler every `seconds` until the returned stop() is called."""
    handler = load_handler(ROOT / "functions" / function)
    stopping = threading.Event()

    def tick() -> None:
        while not stopping.wait(seconds):
            handler(SCHEDULED_EVENT, LambdaContext(function_name=name, timeout_seconds=timeout_seconds))

    thread = threading.Thread(target=tick, name=f"schedule-{function}", daemon=True)
    thread.start()

    def stop() -> None:
        stopping.set()
        thread.join(timeout=timeout_seconds)

    return stop
