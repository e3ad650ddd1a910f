"""openapi.json is generated from the functions' apps, covers every template route, and documents the error format."""

import json

from local.openapi import OPENAPI_PATH, render
from local.template_routes import load_routes

ERROR_REF = "#/components/schemas/ErrorBody"


def test_openapi_json_is_up_to_date() -> None:
    assert OPENAPI_PATH.read_text() == render(), "openapi.json is stale: run `make openapi`"


def test_every_template_route_is_documented() -> None:
    paths = json.loads(OPENAPI_PATH.read_text())["paths"]
    documented = {(method.upper(), path) for path, item in paths.items() for method in item}
    assert documented == {(r.method, r.path) for r in load_routes()}


def test_every_operation_documents_its_errors_in_the_error_format() -> None:
    paths = json.loads(OPENAPI_PATH.read_text())["paths"]
    for path, item in paths.items():
        for method, operation in item.items():
            errors = {code: response for code, response in operation["responses"].items() if int(code) >= 400}
            assert {"400", "500", "503"} <= set(errors), (method, path)
            for code, response in errors.items():
                assert response["content"]["application/json"]["schema"]["$ref"] == ERROR_REF, (method, path, code)
