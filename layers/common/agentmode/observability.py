"""Powertools Logger and Metrics shared by every function (service name from POWERTOOLS_SERVICE_NAME).

No Powertools Tracer: the X-Ray SDK it loads pulls in botocore and measured about 300 ms of cold start here.
Functions run with `Tracing: Active`, so Lambda itself records each invocation's X-Ray segment.
"""

import os

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "AgentMode"))
