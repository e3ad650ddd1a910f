"""A request that adds no metric leaves no Powertools warning in the function's log."""

import os
import subprocess
import sys

from local.lambda_runtime import LAYER_DIR

FLUSH_WITHOUT_METRICS = "from agentmode.observability import metrics\nmetrics.flush_metrics()\nprint('flushed')"


def flushed(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(LAYER_DIR), "POWERTOOLS_METRICS_NAMESPACE": "Test"}
    return subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-W", "default", "-c", code], env=env, capture_output=True, text=True, check=True, timeout=60
    )


def test_a_flush_without_metrics_warns_nothing() -> None:
    result = flushed(FLUSH_WITHOUT_METRICS)

    assert result.stdout.strip() == "flushed"
    assert "No application metrics" not in result.stderr


def test_powertools_would_warn_without_the_filter() -> None:
    """The message the filter matches is still the one Powertools writes (a renamed warning would slip through)."""
    unfiltered = "import warnings\n" + FLUSH_WITHOUT_METRICS.replace(
        "metrics.flush_metrics()", "warnings.resetwarnings()\nwarnings.simplefilter('default')\nmetrics.flush_metrics()"
    )

    assert "No application metrics to publish" in flushed(unfiltered).stderr
