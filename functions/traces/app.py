"""GET /v4/traces, /v4/traces/{trace_id}, /v4/meterics/project (and /v4/metrics/project): the traces Lambda."""

import gc

gc.disable()  # until the handler exists: agentmode.lambda_entry.lambda_handler says why

from agentmode.app_factory import create_app
from agentmode.lambda_entry import lambda_handler
from traces.routes import router

app = create_app(router, title="traces")
handler = lambda_handler(app)
