"""/opsboard/orgs/{org_id}/ billing (seed 000 and the real dashboard's): checkout, cancel, reactivate, discount codes,
the customer portal, the free plan, seat updates, and the billing reads, as the opsboard_billing Lambda."""

import gc

gc.disable()  # until the handler exists: agentmode.lambda_entry.lambda_handler says why

from fastapi import APIRouter

from agentmode.app_factory import create_app
from agentmode.lambda_entry import lambda_handler
from opsboard_billing import read_routes, routes

app = create_app(APIRouter(routes=[*routes.router.routes, *read_routes.router.routes]), title="opsboard_billing")
handler = lambda_handler(app)
