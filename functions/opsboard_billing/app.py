"""/opsboard/orgs/{org_id}/ billing (seed 000): checkout, cancel, reactivate, discount codes, as the opsboard_billing Lambda."""

from agentmode.app_factory import create_app
from agentmode.lambda_entry import lambda_handler
from opsboard_billing.routes import router

app = create_app(router, title="opsboard_billing")
handler = lambda_handler(app)
