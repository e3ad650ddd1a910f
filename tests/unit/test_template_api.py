"""The HTTP API: only the functions' routes (API Gateway's own 404 for anything else), a throttle on each route with
the embedding routes lowest, access logs that say where time and errors went, and an optional custom domain."""

import json

from local.template_routes import load_routes
from tests.unit.template_model import RESOURCES, TEMPLATE, condition, parameters

API = RESOURCES["HttpApi"]["Properties"]
MEMORY_ROUTES = {"POST /agent/write-memory", "GET /agent/read-memory"}


def test_no_catch_all_route_reaches_a_function() -> None:
    routes = load_routes()

    assert [r.route_key for r in routes if r.greedy or r.method == "ANY"] == []


def test_every_route_has_its_own_throttle_and_no_throttle_names_a_missing_route() -> None:
    """A RouteSettings key without its route fails the deploy ("Unable to find Route by key")."""
    settings = API["RouteSettings"]

    assert set(settings) == {r.route_key for r in load_routes()}
    for route, limits in settings.items():
        assert limits["ThrottlingBurstLimit"] >= limits["ThrottlingRateLimit"] > 0, route


def test_the_embedding_routes_are_throttled_below_every_other_route() -> None:
    settings = API["RouteSettings"]
    memory = [limits for route, limits in settings.items() if route in MEMORY_ROUTES]
    others = [limits for route, limits in settings.items() if route not in MEMORY_ROUTES]

    assert max(m["ThrottlingRateLimit"] for m in memory) < min(o["ThrottlingRateLimit"] for o in others)
    assert max(m["ThrottlingBurstLimit"] for m in memory) < min(o["ThrottlingBurstLimit"] for o in others)


def test_access_logs_record_timing_errors_and_the_integration() -> None:
    logged = set(json.loads(API["AccessLogSettings"]["Format"]).values())

    assert {
        "$context.requestId",
        "$context.requestTime",
        "$context.identity.sourceIp",
        "$context.identity.userAgent",
        "$context.routeKey",
        "$context.status",
        "$context.responseLatency",
        "$context.integrationLatency",
        "$context.integrationStatus",
        "$context.integration.requestId",
        "$context.integrationErrorMessage",
        "$context.error.message",
    } <= logged


def test_browsers_may_read_the_request_id_replay_and_retry_headers() -> None:
    assert API["CorsConfiguration"]["ExposeHeaders"] == ["apigw-requestid", "idempotent-replayed", "retry-after"]


def test_a_custom_domain_is_created_only_when_named() -> None:
    domain_resources = {name for name, r in RESOURCES.items() if r["Type"].startswith("AWS::ApiGatewayV2::")}

    assert domain_resources == {"ApiDomain", "ApiDomainMapping"}
    assert {RESOURCES[name]["Condition"] for name in domain_resources} == {"HasCustomDomain"}
    assert not condition("HasCustomDomain", parameters())
    assert condition("HasCustomDomain", parameters(DomainName="api.agentmode.ai"))


def test_the_custom_domain_maps_to_the_apis_stage_and_becomes_its_url() -> None:
    mapping = RESOURCES["ApiDomainMapping"]["Properties"]
    [config] = RESOURCES["ApiDomain"]["Properties"]["DomainNameConfigurations"]

    assert (mapping["ApiId"], mapping["DomainName"], mapping["Stage"]) == (
        {"Ref": "HttpApi"},
        {"Ref": "ApiDomain"},
        {"Ref": "HttpApi.Stage"},
    )
    assert (config["CertificateArn"], config["EndpointType"]) == ({"Ref": "CertificateArn"}, "REGIONAL")
    assert TEMPLATE["Outputs"]["ApiUrl"]["Value"]["If"][:2] == ["HasCustomDomain", {"Sub": "https://${DomainName}"}]
