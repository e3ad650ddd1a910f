"""GET /agent/read-memory: the memory_read Lambda."""

import gc

gc.disable()  # until the handler exists: agentmode.lambda_entry.lambda_handler says why

from agentmode.app_factory import create_app
from agentmode.lambda_entry import lambda_handler
from memory_read.routes import router

app = create_app(router, title="memory_read")
handler = lambda_handler(app)
