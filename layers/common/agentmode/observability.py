"""Powertools Logger, Tracer and Metrics shared by every function (service name from POWERTOOLS_SERVICE_NAME)."""

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "AgentMode"))
