"""/opsboard/orgs: organizations, members, roles and invites (seed 000), as the opsboard_orgs Lambda."""

import gc

gc.disable()  # until the handler exists: agentmode.lambda_entry.lambda_handler says why

from agentmode.app_factory import create_app
from agentmode.lambda_entry import lambda_handler
from opsboard_orgs.routes import router

app = create_app(router, title="opsboard_orgs")
handler = lambda_handler(app)
