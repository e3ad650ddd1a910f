"""GET and PUT /opsboard/users/me, PUT /opsboard/users/me/survey-complete (and the dashboard's POST paths): the
opsboard_users Lambda."""

import gc

gc.disable()  # until the handler exists: agentmode.lambda_entry.lambda_handler says why

from agentmode.app_factory import create_app
from agentmode.lambda_entry import lambda_handler
from opsboard_users.routes import router

app = create_app(router, title="opsboard_users")
handler = lambda_handler(app)
