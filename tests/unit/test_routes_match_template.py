"""template.yaml is the one list of routes: each function's app serves exactly the routes the template gives it."""

import sys

from local.lambda_runtime import load_handler
from local.stack import ROOT
from local.template_routes import load_routes


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
    deployed = {r.code_uri.name for r in load_routes()}
    assert deployed == {p.parent.name for p in (ROOT / "functions").glob("*/app.py")}
