"""POST /agent/write-memory: the memory_write Lambda."""

from agentmode.app_factory import create_app
from agentmode.lambda_entry import lambda_handler
from memory_write.routes import router

app = create_app(router, title="memory_write")
handler = lambda_handler(app)
