"""POST /agent/write-memory: the memory_write Lambda."""

import gc

gc.disable()  # until the handler exists: agentmode.lambda_entry.lambda_handler says why

from agentmode.app_factory import create_app
from agentmode.lambda_entry import lambda_handler
from memory_write.routes import router

app = create_app(router, title="memory_write")
handler = lambda_handler(app)
