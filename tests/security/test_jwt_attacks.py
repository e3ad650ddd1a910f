"""Forged, altered and misused JWTs against the routes that take one: each is 401 UNAUTHORIZED and writes nothing.

Every attack meets each function's token check (one route per function and dependency: get_current_user, or
get_user_or_runner where a runner may call), and every route meets a forged signature and a tampered payload, after
a genuine token was shown to succeed on it. The functions run as in production: HS256 with the project secret,
ES256/RS256 through the project's JWKS (served on loopback) and the issuer checked. Every forged token names a real
user (the victim), who has credits, brand memory, a session and a traced project, so a token that got through would
have read or written the victim's rows.
"""

import hashlib
import hmac
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.routing import APIRoute
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from agentmode.clickhouse import ClickHouse
from local.lambda_runtime import load_handler
from local.template_routes import Route
from tests.conftest import reset_function_state
from tests.factories import TEST_JWT_SECRET, create_user
from tests.jwks_server import JwksServer
from tests.lambda_invoke import Result
from tests.security.support import (
    CONSUMING,
    JWT_ROUTES,
    Call,
    Target,
    b64url,
    b64url_json,
    bearer,
    changed_tables,
    fingerprint,
    make_target,
    route_id,
    valid_call,
)
from tests.stripe_billing_stub import StripeBillingStub

ISSUER = "https://project-ref.supabase.co/auth/v1"


def public_jwk(private_key: Any, kid: str) -> dict[str, Any]:
    algorithm = ECAlgorithm if isinstance(private_key, ec.EllipticCurvePrivateKey) else RSAAlgorithm
    jwk: dict[str, Any] = json.loads(algorithm.to_jwk(private_key.public_key()))
    return {**jwk, "kid": kid, "use": "sig"}


def pem(private_key: Any) -> bytes:
    return bytes(
        private_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


@dataclass(frozen=True)
class Forge:
    """What an attacker works with: the victim's id, the project's public keys, their own keys and own valid tokens."""

    victim: Target
    project_rsa: rsa.RSAPrivateKey  # the project's keys: the attacker only ever uses their public halves
    project_ec: ec.EllipticCurvePrivateKey
    attacker_rsa: rsa.RSAPrivateKey
    attacker_ec: ec.EllipticCurvePrivateKey
    attacker_jwks: JwksServer
    attacker_id: uuid.UUID

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "sub": str(self.victim.user.id),
            "aud": "authenticated",
            "role": "authenticated",
            "iss": ISSUER,
            "iat": now,
            "exp": now + 600,
            "email": "victim@example.com",
        }
        return {key: value for key, value in {**claims, **overrides}.items() if value is not None}

    def own_hs256_token(self) -> str:
        """A genuine token the project issued to the attacker for their own account."""
        return jwt.encode(self.claims(sub=str(self.attacker_id)), TEST_JWT_SECRET, algorithm="HS256")

    def own_es256_token(self) -> str:
        return jwt.encode(self.claims(sub=str(self.attacker_id)), self.project_ec, algorithm="ES256", headers={"kid": "ec-1"})


def hs256(claims: dict[str, Any], secret: str = TEST_JWT_SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    return f"{b64url_json(header)}.{b64url_json(claims)}.{signature}"


def hmac_signed(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
    return f"{signing_input}.{b64url(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())}"


def with_payload_of(token: str, claims: dict[str, Any]) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{b64url_json(claims)}.{signature}"


ATTACKS: dict[str, Callable[[Forge], str]] = {
    "alg_none": lambda f: unsigned({"alg": "none", "typ": "JWT"}, f.claims()),
    "alg_none_uppercase_with_a_genuine_signature": lambda f: unsigned(
        {"alg": "NONE", "typ": "JWT"}, f.claims(), hs256(f.claims()).split(".")[2]
    ),
    "alg_as_a_list": lambda f: hmac_signed({"alg": ["HS256"], "typ": "JWT"}, f.claims(), TEST_JWT_SECRET.encode()),
    "alg_as_an_object": lambda f: hmac_signed({"alg": {"HS256": True}, "typ": "JWT"}, f.claims(), TEST_JWT_SECRET.encode()),
    "hs256_signed_with_the_rsa_public_key": lambda f: hmac_signed(
        {"alg": "HS256", "kid": "rsa-1"}, f.claims(), pem(f.project_rsa)
    ),
    "hs256_signed_with_the_ec_public_key": lambda f: hmac_signed({"alg": "HS256", "kid": "ec-1"}, f.claims(), pem(f.project_ec)),
    "hs256_signed_with_the_published_jwk": lambda f: hmac_signed(
        {"alg": "HS256", "kid": "rsa-1"}, f.claims(), json.dumps(public_jwk(f.project_rsa, "rsa-1")).encode()
    ),
    "rs256_header_over_an_hmac_of_the_public_key": lambda f: hmac_signed(
        {"alg": "RS256", "kid": "rsa-1"}, f.claims(), pem(f.project_rsa)
    ),
    "es256_naming_the_rsa_key": lambda f: jwt.encode(f.claims(), f.attacker_ec, algorithm="ES256", headers={"kid": "rsa-1"}),
    "expired": lambda f: hs256(f.claims(exp=int(time.time()) - 60)),
    "not_yet_valid": lambda f: hs256(f.claims(nbf=int(time.time()) + 600)),
    "issued_in_the_future": lambda f: hs256(f.claims(iat=int(time.time()) + 600)),
    "wrong_audience": lambda f: hs256(f.claims(aud="anon")),
    "no_audience": lambda f: hs256(f.claims(aud=None)),
    "wrong_issuer": lambda f: hs256(f.claims(iss="https://evil.example/auth/v1")),
    "no_issuer": lambda f: hs256(f.claims(iss=None)),
    "no_expiry": lambda f: hs256(f.claims(exp=None)),
    "unknown_kid": lambda f: jwt.encode(f.claims(), f.attacker_ec, algorithm="ES256", headers={"kid": "attacker-key"}),
    "kid_path_traversal": lambda f: jwt.encode(
        f.claims(), f.attacker_ec, algorithm="ES256", headers={"kid": "../../../../dev/null"}
    ),
    "kid_sql_injection": lambda f: jwt.encode(f.claims(), f.attacker_ec, algorithm="ES256", headers={"kid": "' OR '1'='1"}),
    "embedded_jwk_header": lambda f: jwt.encode(
        f.claims(), f.attacker_rsa, algorithm="RS256", headers={"kid": "rsa-1", "jwk": public_jwk(f.attacker_rsa, "rsa-1")}
    ),
    "jku_pointing_to_the_attackers_jwks": lambda f: jwt.encode(
        f.claims(), f.attacker_rsa, algorithm="RS256", headers={"kid": "attacker-rsa", "jku": f.attacker_jwks.jwks_url}
    ),
    "tampered_payload_of_an_own_hs256_token": lambda f: with_payload_of(f.own_hs256_token(), f.claims()),
    "tampered_payload_of_an_own_es256_token": lambda f: with_payload_of(f.own_es256_token(), f.claims()),
    "wrong_secret": lambda f: hs256(f.claims(), "another-secret-that-is-long-enough-for-hs256"),
    "signature_stripped": lambda f: hs256(f.claims()).rsplit(".", 1)[0] + ".",
    "anon_api_key": lambda f: hs256({"iss": "supabase", "ref": "project-ref", "role": "anon", "iat": 0, "exp": 4102444800}),
    "service_role_api_key": lambda f: hs256(
        {"iss": "supabase", "ref": "project-ref", "role": "service_role", "iat": 0, "exp": 4102444800}
    ),
    "service_role_with_user_claims": lambda f: hs256(f.claims(role="service_role")),
    "anon_role_with_user_claims": lambda f: hs256(f.claims(role="anon")),
    "subject_not_a_user_id": lambda f: hs256(f.claims(sub="victim@example.com")),
    "garbage": lambda f: "eyJhbGciOiJIUzI1NiJ9.not-base64!.x",
}


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {
        "project_rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "project_ec": ec.generate_private_key(ec.SECP256R1()),
        "attacker_rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "attacker_ec": ec.generate_private_key(ec.SECP256R1()),
    }


@pytest.fixture(scope="module")
def project_auth(keys: dict[str, Any]) -> Iterator[JwksServer]:
    """The functions configured as deployed: HS256 secret, the project's JWKS (one RSA, one EC key) and its issuer."""
    jwks = JwksServer()
    jwks.keys = [public_jwk(keys["project_rsa"], "rsa-1"), public_jwk(keys["project_ec"], "ec-1")]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SUPABASE_URL", jwks.url)
        patch.setenv("SUPABASE_JWT_ISSUER", ISSUER)
        reset_function_state()
        yield jwks
    reset_function_state()
    jwks.close()


@pytest.fixture(scope="module")
def attacker_jwks(keys: dict[str, Any]) -> Iterator[JwksServer]:
    server = JwksServer()
    server.keys = [public_jwk(keys["attacker_rsa"], "attacker-rsa")]
    yield server
    server.close()


@pytest.fixture(scope="module")
def forge(
    project_auth: JwksServer,
    attacker_jwks: JwksServer,
    keys: dict[str, Any],
    admin: psycopg.Connection[Any],
    clickhouse: ClickHouse,
    stripe_billing: StripeBillingStub,
) -> Forge:
    return Forge(
        victim=make_target(admin, clickhouse, stripe_billing),
        attacker_jwks=attacker_jwks,
        attacker_id=create_user(admin).id,
        **keys,
    )


def assert_refused_and_nothing_written(admin: psycopg.Connection[Any], send: Callable[[], Result]) -> Result:
    before = fingerprint(admin)
    result = send()
    assert (result.status, result.body["error_code"]) == (401, "UNAUTHORIZED"), result.body
    assert changed_tables(before, fingerprint(admin)) == []
    return result


TOKEN_CHECKS = {"get_current_user", "get_user_or_runner"}


def token_check(route: Route) -> str:
    """The dependency that checks the route's token (agentmode.auth or agentmode.runner_auth)."""
    load_handler(route.code_uri, route.handler)
    app = sys.modules[f"lambda_{route.code_uri.name}_app"].app
    served = next(r for r in app.routes if isinstance(r, APIRoute) and r.path == route.path and route.method in r.methods)
    [name] = {dependency.call.__name__ for dependency in served.dependant.dependencies if dependency.call} & TOKEN_CHECKS
    return name


def one_route_per_token_check(routes: list[Route]) -> list[Route]:
    """Per function, one route for each dependency that checks tokens there: every attack below is a property of the
    token check and of how a function wires it, not of a route; every route still meets two attacks of its own."""
    chosen: dict[tuple[str, str], Route] = {}
    for route in sorted(routes, key=route_id):
        chosen.setdefault((route.function, token_check(route)), route)
    return list(chosen.values())


TOKEN_CHECK_ROUTES = one_route_per_token_check(JWT_ROUTES)
EVERY_ROUTES_ATTACKS = ("wrong_secret", "tampered_payload_of_an_own_hs256_token")


def test_every_jwt_route_checks_its_token_with_one_of_the_two_dependencies() -> None:
    assert {token_check(route) for route in JWT_ROUTES} == TOKEN_CHECKS
    assert {route.function for route in TOKEN_CHECK_ROUTES} == {route.function for route in JWT_ROUTES}


@pytest.mark.parametrize("alg", ["HS256", "ES256", "RS256"])
@pytest.mark.parametrize("route", TOKEN_CHECK_ROUTES, ids=route_id)
def test_a_genuine_token_of_each_algorithm_is_accepted(
    admin: psycopg.Connection[Any],
    clickhouse: ClickHouse,
    stripe_billing: StripeBillingStub,
    forge: Forge,
    route: Route,
    alg: str,
) -> None:
    """The control: the very requests the attacks below send succeed with a token the project really issued. A route
    whose success uses up its target (a delete, an answered invite) gets a victim of its own, built alike, so that each
    algorithm's send can succeed and the shared victim keeps every row the attacks aim at."""
    victim = make_target(admin, clickhouse, stripe_billing) if route.route_key in CONSUMING else forge.victim
    signers: dict[str, tuple[Any, str | None]] = {
        "HS256": (TEST_JWT_SECRET, None),
        "ES256": (forge.project_ec, "ec-1"),
        "RS256": (forge.project_rsa, "rsa-1"),
    }
    key, kid = signers[alg]
    token = jwt.encode(forge.claims(sub=str(victim.user.id)), key, algorithm=alg, headers={"kid": kid} if kid else None)

    result = valid_call(route, victim).send(bearer(token))

    assert result.status in (200, 201), result.body


@pytest.mark.parametrize("route", JWT_ROUTES, ids=route_id)
def test_a_genuine_token_is_accepted_on_every_route(
    admin: psycopg.Connection[Any], clickhouse: ClickHouse, stripe_billing: StripeBillingStub, forge: Forge, route: Route
) -> None:
    """The control of every route's attacks: the very request they send succeeds with a token the project issued."""
    victim = make_target(admin, clickhouse, stripe_billing) if route.route_key in CONSUMING else forge.victim

    result = valid_call(route, victim).send(bearer(hs256(forge.claims(sub=str(victim.user.id)))))

    assert result.status in (200, 201), result.body


# What each of those routes answers when its target was already used up.
USED_UP = {
    "DELETE /opsboard/projects/{project_id}": (404, "NOT_FOUND"),
    "POST /opsboard/projects/{project_id}/delete": (404, "NOT_FOUND"),
    "DELETE /opsboard/orgs/{org_id}": (404, "NOT_FOUND"),
    "DELETE /opsboard/orgs/{org_id}/invites/{email}": (404, "INVITE_NOT_FOUND"),
    "POST /opsboard/orgs/{org_id}/accept-invite": (404, "INVITE_NOT_FOUND"),
    "POST /opsboard/orgs/{org_id}/accept": (404, "INVITE_NOT_FOUND"),
    "POST /opsboard/orgs/{org_id}/decline-invite": (404, "INVITE_NOT_FOUND"),
    "POST /opsboard/orgs/{org_id}/leave": (404, "NOT_FOUND"),
    "POST /opsboard/orgs/{org_id}/remove-member": (404, "MEMBER_NOT_FOUND"),
    "POST /opsboard/orgs/{org_id}/members/remove": (404, "MEMBER_NOT_FOUND"),
    "POST /opsboard/orgs/{org_id}/reactivate-subscription": (409, "NOT_CANCELLING"),
    "POST /agent/respond": (409, "QUESTION_CLOSED"),
    "POST /agent/cancel": (409, "SESSION_ENDED"),
}


@pytest.mark.parametrize("route_key", sorted(CONSUMING))
def test_a_route_that_uses_up_its_target_refuses_the_same_request_again(
    admin: psycopg.Connection[Any], clickhouse: ClickHouse, stripe_billing: StripeBillingStub, forge: Forge, route_key: str
) -> None:
    """Why those routes get a victim of their own above: the second identical request finds nothing left to act on."""
    target = make_target(admin, clickhouse, stripe_billing)
    token = bearer(hs256(forge.claims(sub=str(target.user.id))))
    assert valid_call(route_key, target).send(token).status == 200

    again = valid_call(route_key, target).send(token)

    assert (again.status, again.body["error_code"]) == USED_UP[route_key]


@pytest.mark.parametrize("attack", EVERY_ROUTES_ATTACKS)
@pytest.mark.parametrize("route", JWT_ROUTES, ids=route_id)
def test_every_route_refuses_a_forged_token_and_writes_nothing(
    admin: psycopg.Connection[Any], forge: Forge, route: Route, attack: str
) -> None:
    token = ATTACKS[attack](forge)

    assert_refused_and_nothing_written(admin, lambda: valid_call(route, forge.victim).send(bearer(token)))


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("route", TOKEN_CHECK_ROUTES, ids=route_id)
def test_a_forged_token_is_401_and_writes_nothing(
    admin: psycopg.Connection[Any], forge: Forge, route: Route, attack: str
) -> None:
    token = ATTACKS[attack](forge)

    assert_refused_and_nothing_written(admin, lambda: valid_call(route, forge.victim).send(bearer(token)))


@pytest.mark.parametrize("route", TOKEN_CHECK_ROUTES, ids=route_id)
def test_a_jku_header_never_makes_the_function_fetch_the_attackers_keys(
    admin: psycopg.Connection[Any], forge: Forge, route: Route
) -> None:
    fetches = forge.attacker_jwks.fetches
    token = ATTACKS["jku_pointing_to_the_attackers_jwks"](forge)

    assert_refused_and_nothing_written(admin, lambda: valid_call(route, forge.victim).send(bearer(token)))
    assert forge.attacker_jwks.fetches == fetches


TRANSPORTS: dict[str, Callable[[str], dict[str, Any]]] = {
    "no_token_at_all": lambda token: {"headers": {}},
    "token_in_the_query_string": lambda token: {"query": {"access_token": token}},
    "token_in_a_cookie": lambda token: {"headers": {"cookie": f"sb-access-token={token}"}},
    "basic_scheme": lambda token: {"headers": {"authorization": f"Basic {token}"}},
    "no_scheme": lambda token: {"headers": {"authorization": token}},
    "apikey_header": lambda token: {"headers": {"apikey": token}},
}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("route", TOKEN_CHECK_ROUTES, ids=route_id)
def test_a_genuine_token_anywhere_but_the_bearer_header_is_401(
    admin: psycopg.Connection[Any], forge: Forge, route: Route, transport: str
) -> None:
    call = valid_call(route, forge.victim)
    placed = TRANSPORTS[transport](hs256(forge.claims()))
    call = Call(call.method, call.path, {**call.query, **placed.get("query", {})}, call.body, placed.get("headers", {}))

    assert_refused_and_nothing_written(admin, call.send)


@pytest.fixture(scope="module")
def rotating_jwks() -> Iterator[JwksServer]:
    """A project JWKS whose keys each test below publishes, then deletes. One server for them all: closing one waits
    out its poll interval (half a second), and with JWKS_CACHE_SECONDS=0 every request reads the keys afresh."""
    jwks = JwksServer()
    yield jwks
    jwks.close()


@pytest.mark.parametrize("route", TOKEN_CHECK_ROUTES, ids=route_id)
def test_a_token_of_a_deleted_key_is_401_once_the_key_cache_expires(
    admin: psycopg.Connection[Any], forge: Forge, route: Route, rotating_jwks: JwksServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    retired = ec.generate_private_key(ec.SECP256R1())
    rotating_jwks.keys = [public_jwk(retired, "retired")]
    token = jwt.encode(forge.claims(), retired, algorithm="ES256", headers={"kid": "retired"})
    monkeypatch.setenv("SUPABASE_URL", rotating_jwks.url)
    monkeypatch.setenv("JWKS_CACHE_SECONDS", "0")
    reset_function_state()
    try:
        assert valid_call("GET /agent/status", forge.victim).send(bearer(token)).status == 200, "accepted while published"
        rotating_jwks.keys = []  # the project revoked the key

        assert_refused_and_nothing_written(admin, lambda: valid_call(route, forge.victim).send(bearer(token)))
    finally:
        monkeypatch.undo()
        reset_function_state()
