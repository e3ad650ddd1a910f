"""CORS on the local runner as the HTTP API answers it: template.yaml's CorsConfiguration, origins from CORS_ALLOW_ORIGINS."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.template_routes import load_template
from tests.conftest import reset_function_state

WEB_APP = "http://localhost:5173"  # the default of CORS_ALLOW_ORIGINS and of the template's CorsAllowOrigins
STRANGER = "https://evil.example"
PREFLIGHT_POST = {"access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type"}


def cors_configuration() -> dict[str, Any]:
    configuration: dict[str, Any] = load_template()["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"]
    return configuration


def as_set(header: str) -> set[str]:
    return {item.strip().lower() for item in header.split(",")}


@pytest.fixture
def two_web_apps(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", f"{WEB_APP}, https://app.example")
    reset_function_state()
    yield "https://app.example"
    monkeypatch.undo()
    reset_function_state()


def test_the_template_exposes_the_request_id_and_retry_headers_to_browsers() -> None:
    assert {"apigw-requestid", "idempotent-replayed", "retry-after"} <= {h.lower() for h in cors_configuration()["ExposeHeaders"]}


def test_a_preflight_from_an_allowed_origin_gets_the_templates_headers_and_methods(client: httpx.Client) -> None:
    response = client.options("/agent/start", headers={"origin": WEB_APP, **PREFLIGHT_POST})
    configuration = cors_configuration()
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == WEB_APP
    assert as_set(response.headers["access-control-allow-methods"]) == {m.lower() for m in configuration["AllowMethods"]}
    assert as_set(response.headers["access-control-allow-headers"]) == {h.lower() for h in configuration["AllowHeaders"]}
    assert response.headers["access-control-max-age"] == str(configuration["MaxAge"])


def test_a_preflight_from_another_origin_gets_no_cors_headers(client: httpx.Client) -> None:
    response = client.options("/agent/start", headers={"origin": STRANGER, **PREFLIGHT_POST})
    assert response.status_code == 204
    assert not [name for name in response.headers if name.startswith("access-control-")]


def test_a_request_from_an_allowed_origin_may_read_the_exposed_headers(client: httpx.Client) -> None:
    response = client.get("/agent/status", params={"session_id": "x"}, headers={"origin": WEB_APP})
    assert response.headers["access-control-allow-origin"] == WEB_APP
    assert as_set(response.headers["access-control-expose-headers"]) == {h.lower() for h in cors_configuration()["ExposeHeaders"]}


def test_a_request_from_another_origin_is_answered_without_cors_headers(client: httpx.Client) -> None:
    response = client.get("/agent/status", params={"session_id": "x"}, headers={"origin": STRANGER})
    assert response.status_code == 401
    assert not [name for name in response.headers if name.startswith("access-control-")]


def test_every_origin_in_cors_allow_origins_is_allowed(client: httpx.Client, two_web_apps: str) -> None:
    preflight = client.options("/agent/start", headers={"origin": two_web_apps, **PREFLIGHT_POST})
    request = client.get("/agent/status", headers={"origin": two_web_apps})
    stranger = client.get("/agent/status", headers={"origin": STRANGER})
    assert preflight.headers["access-control-allow-origin"] == two_web_apps
    assert request.headers["access-control-allow-origin"] == two_web_apps
    assert "access-control-allow-origin" not in stranger.headers


def test_every_answer_names_its_request_id_in_apigw_requestid(client: httpx.Client) -> None:
    response = client.get("/agent/status", params={"session_id": "x"})
    assert response.headers["apigw-requestid"] == response.json()["request_id"]


def test_the_template_allows_every_method_the_routes_use_and_credentials() -> None:
    from local.template_routes import load_routes

    configuration = cors_configuration()
    assert {route.method for route in load_routes()} <= set(configuration["AllowMethods"])
    assert configuration["AllowCredentials"] is True


def test_a_preflight_for_a_put_from_the_web_app_allows_it_with_credentials(client: httpx.Client) -> None:
    preflight = {"access-control-request-method": "PUT", "access-control-request-headers": "content-type"}

    response = client.options("/opsboard/users/me", headers={"origin": WEB_APP, **preflight})

    assert "put" in as_set(response.headers["access-control-allow-methods"])
    assert response.headers["access-control-allow-credentials"] == "true"


def test_a_cookie_authenticated_read_from_the_web_app_may_be_read_by_it(client: httpx.Client, user: Any) -> None:
    response = client.get("/opsboard/orgs", headers={"origin": WEB_APP, "cookie": f"session_id={user.token}"})

    assert response.status_code == 200
    assert (response.headers["access-control-allow-origin"], response.headers["access-control-allow-credentials"]) == (
        WEB_APP, "true")  # fmt: skip
