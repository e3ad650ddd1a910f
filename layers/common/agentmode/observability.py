"""Powertools Logger and Metrics shared by every function (service name from POWERTOOLS_SERVICE_NAME).

No Powertools Tracer: the X-Ray SDK it loads pulls in botocore and measured about 300 ms of cold start here.
Functions run with `Tracing: Active`, so Lambda itself records each invocation's X-Ray segment.
"""

import os
import warnings

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "AgentMode"))
# Most requests add no metric of their own (a status read, an error answer), and Powertools warns at each such flush:
# noise in every container's log. This filter is the way Powertools' documentation gives to silence it.
warnings.filterwarnings("ignore", "No application metrics to publish")


def add_tool_metric(name: str, tool_name: str, unit: MetricUnit, value: float) -> None:
    """A metric with the tool as a dimension of its own, so the invocation's other metrics keep theirs.

    Written at once as its own EMF line (Powertools' single_metric); skipped, like every metric, when metrics are
    disabled (local runs and tests), which single_metric alone does not check.
    """
    if is_metrics_disabled():
        return
    service = os.environ.get("POWERTOOLS_SERVICE_NAME", "service_undefined")
    with single_metric(
        name=name,
        unit=unit,
        value=value,
        namespace=metrics.namespace,
        default_dimensions={"service": service, "tool_name": tool_name},
    ):
        pass
