"""GET /agent/status and GET /agent/events: the agent_status Lambda (also API Gateway's catch-all route)."""

import gc

gc.disable()  # until the handler exists: agentmode.lambda_entry.lambda_handler says why

from agent_status.routes import router
from agentmode.app_factory import create_app
from agentmode.lambda_entry import lambda_handler

app = create_app(router, title="agent_status")
handler = lambda_handler(app)
