"""The local runner and the in-process tests pick a request's route as API Gateway does: the most specific one."""

import uuid

from local.template_routes import load_routes, match_route

ROUTES = load_routes()


def route_key(method: str, path: str) -> str:
    found = match_route(ROUTES, method, path)
    assert found is not None
    return found[0].route_key


def test_a_literal_segment_wins_over_a_path_variable() -> None:
    assert route_key("GET", "/opsboard/orgs/invites") == "GET /opsboard/orgs/invites"


def test_a_path_variable_takes_what_no_literal_route_names() -> None:
    org = uuid.uuid4()
    assert route_key("GET", f"/opsboard/orgs/{org}") == "GET /opsboard/orgs/{org_id}"
    assert route_key("GET", f"/opsboard/orgs/{org}/invites") == "GET /opsboard/orgs/{org_id}/invites"


def test_a_path_variable_is_bound_to_its_segment() -> None:
    found = match_route(ROUTES, "DELETE", "/opsboard/orgs/o-1/invites/a@b.co")
    assert found is not None
    assert found[1] == {"org_id": "o-1", "email": "a@b.co"}
