"""GET/POST /opsboard/projects, GET/PUT/DELETE /opsboard/projects/{project_id}, POST …/regenerate-key (and the
dashboard's POST paths): the opsboard_projects Lambda."""

import gc

gc.disable()  # until the handler exists: agentmode.lambda_entry.lambda_handler says why

from agentmode.app_factory import create_app
from agentmode.lambda_entry import lambda_handler
from opsboard_projects.routes import router

app = create_app(router, title="opsboard_projects")
handler = lambda_handler(app)
