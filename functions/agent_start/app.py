"""POST /agent/start: the agent_start Lambda."""

import gc

gc.disable()  # until the handler exists: agentmode.lambda_entry.lambda_handler says why

from agent_start.routes import router
from agentmode.app_factory import create_app
from agentmode.lambda_entry import lambda_handler

app = create_app(router, title="agent_start")
handler = lambda_handler(app)
