"""template.yaml is the one list of routes: each function's app serves exactly the routes the template gives it."""

import sys
from pathlib import Path

from local.lambda_runtime import load_handler
from local.stack import ROOT
from local.template_routes import load_routes
from tests.unit.template_model import FUNCTIONS


def test_each_function_serves_exactly_its_template_routes() -> None:
    routes = load_routes()
    for function in {r.function for r in routes}:
        declared = {(r.method, r.path) for r in routes if r.function == function}
        code_uri = next(r.code_uri for r in routes if r.function == function)
        load_handler(code_uri)
        app = sys.modules[f"lambda_{code_uri.name}_app"].app
        served = {(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item}
        assert served == declared, function


def test_every_function_folder_is_deployed() -> None:
    deployed = {Path(str(f["CodeUri"])).name for f in FUNCTIONS.values()}
    assert deployed == {p.parent.name for p in (ROOT / "functions").glob("*/app.py")}


def test_every_function_but_the_scheduled_ones_has_a_route() -> None:
    scheduled = {name for name, f in FUNCTIONS.items() if any(e["Type"] == "ScheduleV2" for e in f["Events"].values())}
    assert (
        {r.function for r in load_routes()}
        == set(FUNCTIONS) - scheduled
        == set(FUNCTIONS) - {"SeatSyncFunction", "RunSweeperFunction"}
    )
