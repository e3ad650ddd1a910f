"""Supabase JWT verification: HS256 with the project secret, ES256/RS256 with the project's JWKS, and the attacks."""

import base64
import dataclasses
import datetime
import hashlib
import hmac
import json
import math
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from agentmode import auth
from agentmode.auth import verify_token
from agentmode.errors import AppError, ErrorCode
from agentmode.settings import Settings
from tests.jwks_server import JwksServer

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
ISSUER = "https://project.supabase.co/auth/v1"


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.close()


def settings_for(jwks_url: str = "", issuer: str = ISSUER) -> Settings:
    return Settings(supabase_jwt_secret=SECRET, supabase_url=jwks_url, supabase_jwt_issuer=issuer)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    body = {
        "sub": str(uuid.uuid4()),
        "aud": "authenticated",
        "role": "authenticated",
        "iss": ISSUER,
        "iat": now,
        "exp": now + 600,
    }
    return {**body, **overrides}


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(private_key: Any, kid: str) -> dict[str, Any]:
    algorithm = ECAlgorithm if isinstance(private_key, ec.EllipticCurvePrivateKey) else RSAAlgorithm
    jwk: dict[str, Any] = json.loads(algorithm.to_jwk(private_key.public_key()))
    return {**jwk, "kid": kid, "use": "sig"}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def rejected(token: str, settings: Settings) -> AppError:
    with pytest.raises(AppError) as raised:
        verify_token(token, settings)
    assert raised.value.code is ErrorCode.UNAUTHORIZED
    return raised.value


def test_valid_hs256_token_gives_the_user() -> None:
    body = claims(email="a@b.c")
    user = verify_token(jwt.encode(body, SECRET, algorithm="HS256"), settings_for())
    assert (str(user.id), user.email, user.role) == (body["sub"], "a@b.c", "authenticated")


def test_valid_es256_token_is_checked_against_the_jwks(jwks: JwksServer) -> None:
    key = ec_key()
    jwks.keys = [public_jwk(key, "k1")]
    token = jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "k1"})
    assert verify_token(token, settings_for(jwks.url)).role == "authenticated"


def test_valid_rs256_token_is_checked_against_the_jwks(jwks: JwksServer) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks.keys = [public_jwk(key, "r1")]
    token = jwt.encode(claims(), key, algorithm="RS256", headers={"kid": "r1"})
    assert verify_token(token, settings_for(jwks.url)).role == "authenticated"


def test_jwks_is_fetched_once_per_container(jwks: JwksServer) -> None:
    key = ec_key()
    jwks.keys = [public_jwk(key, "k1")]
    for _ in range(5):
        verify_token(jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "k1"}), settings_for(jwks.url))
    assert jwks.fetches == 1


def test_rotated_key_is_picked_up_on_unknown_kid(jwks: JwksServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "MIN_FORCED_REFRESH_SECONDS", 0.0)
    old, new = ec_key(), ec_key()
    jwks.keys = [public_jwk(old, "old")]
    verify_token(jwt.encode(claims(), old, algorithm="ES256", headers={"kid": "old"}), settings_for(jwks.url))
    jwks.keys = [public_jwk(new, "new")]
    assert verify_token(jwt.encode(claims(), new, algorithm="ES256", headers={"kid": "new"}), settings_for(jwks.url))


def test_unknown_kid_refetches_at_most_once_per_interval(jwks: JwksServer) -> None:
    key = ec_key()
    jwks.keys = [public_jwk(key, "k1")]
    verify_token(jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "k1"}), settings_for(jwks.url))
    for n in range(5):
        rejected(jwt.encode(claims(), key, algorithm="ES256", headers={"kid": f"forged-{n}"}), settings_for(jwks.url))
    assert jwks.fetches == 1


def test_token_of_a_deleted_key_is_rejected_once_the_cache_refreshes(jwks: JwksServer) -> None:
    key = ec_key()
    jwks.keys = [public_jwk(key, "k1")]
    settings = settings_for(jwks.url).model_copy(update={"jwks_cache_seconds": 0})
    verify_token(jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "k1"}), settings)
    jwks.keys = []
    auth._jwks_caches.clear()
    rejected(jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "k1"}), settings)


def test_alg_none_is_rejected() -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    rejected(f"{header}.{b64(json.dumps(claims()).encode())}.", settings_for())


def test_hs256_token_signed_with_the_public_key_is_rejected(jwks: JwksServer) -> None:
    """Algorithm confusion: the attacker signs HS256 using the (public) JWKS key as the HMAC secret."""
    key = ec_key()
    jwks.keys = [public_jwk(key, "k1")]
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = (
        f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': 'k1'}).encode())}.{b64(json.dumps(claims()).encode())}"
    )
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    rejected(f"{signing_input}.{b64(signature)}", settings_for(jwks.url))


def test_es256_token_with_kid_of_a_different_key_type_is_rejected(jwks: JwksServer) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks.keys = [public_jwk(rsa_key, "r1")]
    token = jwt.encode(claims(), ec_key(), algorithm="ES256", headers={"kid": "r1"})
    assert rejected(token, settings_for(jwks.url)).details["reason"] == "key does not match algorithm"


def test_hs256_tokens_are_refused_when_no_secret_is_configured() -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    assert rejected(token, Settings(supabase_jwt_secret="")).details["reason"] == "HS256 tokens are not accepted"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": int(time.time()) - 60}, "ExpiredSignatureError"),
        # Computed when the tests are collected: a day ahead stays ahead however long the suite runs before this test.
        ({"nbf": int(time.time()) + 86_400}, "ImmatureSignatureError"),
        ({"aud": "anon"}, "InvalidAudienceError"),
        ({"role": "anon"}, "not a user token"),
        ({"role": "service_role"}, "not a user token"),
        ({"sub": "not-a-uuid"}, "subject is not a user id"),
    ],
)
def test_claims_that_do_not_fit_are_rejected(overrides: dict[str, Any], reason: str) -> None:
    assert rejected(jwt.encode(claims(**overrides), SECRET, algorithm="HS256"), settings_for()).details["reason"] == reason


def test_missing_exp_is_rejected() -> None:
    body = claims()
    del body["exp"]
    rejected(jwt.encode(body, SECRET, algorithm="HS256"), settings_for())


def test_wrong_issuer_is_rejected_when_one_is_configured() -> None:
    token = jwt.encode(claims(iss="https://evil.example/auth/v1"), SECRET, algorithm="HS256")
    rejected(token, settings_for(issuer=ISSUER))


def test_right_issuer_is_accepted() -> None:
    token = jwt.encode(claims(iss=ISSUER), SECRET, algorithm="HS256")
    assert verify_token(token, settings_for(issuer=ISSUER))


def test_wrong_secret_is_rejected() -> None:
    rejected(jwt.encode(claims(), "another-secret-that-is-also-long-enough!!", algorithm="HS256"), settings_for())


def test_tampered_payload_is_rejected() -> None:
    header, _, signature = jwt.encode(claims(), SECRET, algorithm="HS256").split(".")
    rejected(f"{header}.{b64(json.dumps(claims(sub=str(uuid.uuid4()))).encode())}.{signature}", settings_for())


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer", "eyJhbGciOiJIUzI1NiJ9..", "ä.ö.ü"])
def test_garbled_tokens_are_rejected(garbage: str) -> None:
    rejected(garbage, settings_for())


def test_the_issuer_defaults_to_the_supabase_projects_own(jwks: JwksServer) -> None:
    derived = Settings(supabase_jwt_secret=SECRET, supabase_url=jwks.url + "/", supabase_jwt_issuer="")
    assert verify_token(jwt.encode(claims(iss=f"{jwks.url}/auth/v1"), SECRET, algorithm="HS256"), derived)
    assert rejected(jwt.encode(claims(), SECRET, algorithm="HS256"), derived).details["reason"] == "InvalidIssuerError"
    body = claims()
    del body["iss"]
    assert rejected(jwt.encode(body, SECRET, algorithm="HS256"), derived).details["reason"] == "MissingRequiredClaimError"


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_hmac_algorithms_other_than_hs256_are_rejected(algorithm: str) -> None:
    token = jwt.encode(claims(), SECRET, algorithm=algorithm)
    assert rejected(token, settings_for()).details["reason"] == "unsupported algorithm"


@pytest.mark.parametrize(
    "subject",
    [
        "urn:uuid:6f1c2a3e-8b4d-4e7f-9a10-0d3e5b7c9a21",
        "{6f1c2a3e-8b4d-4e7f-9a10-0d3e5b7c9a21}",
        "6f1c2a3e8b4d4e7f9a100d3e5b7c9a21",
        " 6f1c2a3e-8b4d-4e7f-9a10-0d3e5b7c9a21",
        "6f1c2a3e-8b4d-4e7f-9a10-0d3e5b7c9a21\n",
        12345,
        None,
    ],
)
def test_only_a_canonical_uuid_subject_is_a_user(subject: Any) -> None:
    reason = rejected(jwt.encode(claims(sub=subject), SECRET, algorithm="HS256"), settings_for()).details["reason"]
    assert reason in {"subject is not a user id", "InvalidSubjectError", "MissingRequiredClaimError"}


def test_an_uppercase_subject_is_the_same_user() -> None:
    subject = uuid.uuid4()
    user = verify_token(jwt.encode(claims(sub=str(subject).upper()), SECRET, algorithm="HS256"), settings_for())
    assert (user.id, user.claims["sub"]) == (subject, str(subject))


@pytest.mark.parametrize(
    "odd",
    [{"email": "a\u0000b@c.d"}, {"email": "\ud800@c.d"}, {"user_metadata": {"name": "x\u0000"}}, {"score": float("nan")}],
    ids=["nul", "lone-surrogate", "nested-nul", "nan"],
)
def test_claims_postgres_cannot_store_are_rejected(odd: dict[str, Any]) -> None:
    token = jwt.encode(claims(**odd), SECRET, algorithm="HS256")
    assert rejected(token, settings_for()).details["reason"] == "claims hold text Postgres cannot store"


def test_only_the_claims_postgres_reads_reach_it() -> None:
    body = claims(email="a@b.c", app_metadata={"provider": "email"}, user_metadata={"bio": "x" * 5000}, session_id="s")
    user = verify_token(jwt.encode(body, SECRET, algorithm="HS256"), settings_for())
    assert set(user.claims) == {"sub", "role", "aud", "email", "exp", "iat", "session_id"}


def test_a_jwks_outage_keeps_the_keys_already_fetched(jwks: JwksServer) -> None:
    key = ec_key()
    jwks.keys = [public_jwk(key, "k1")]
    settings = settings_for(jwks.url).model_copy(update={"jwks_cache_seconds": 0})
    verify_token(jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "k1"}), settings)
    jwks.close()
    assert verify_token(jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "k1"}), settings)


def test_a_malformed_jwks_entry_does_not_hide_the_good_ones(jwks: JwksServer) -> None:
    key = ec_key()
    broken = {"kid": "broken", "kty": "EC", "crv": "P-256", "x": "!!", "y": "??"}
    jwks.keys = [broken, {"kty": "EC"}, "not an object", public_jwk(key, "k1")]  # type: ignore[list-item]
    assert verify_token(jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "k1"}), settings_for(jwks.url))
    rejected(jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "broken"}), settings_for(jwks.url))


def test_the_user_of_a_request_cannot_be_changed_once_verified() -> None:
    user = verify_token(jwt.encode(claims(), SECRET, algorithm="HS256"), settings_for())
    with pytest.raises(dataclasses.FrozenInstanceError):
        user.id = uuid.uuid4()  # type: ignore[misc]


@pytest.mark.parametrize("url_configured", [True, False], ids=["no-kid", "no-supabase-url"])
def test_an_asymmetric_token_without_a_resolvable_key_is_rejected(jwks: JwksServer, url_configured: bool) -> None:
    key = ec_key()
    jwks.keys = [public_jwk(key, "k1")]
    headers = {} if url_configured else {"kid": "k1"}
    token = jwt.encode(claims(), key, algorithm="ES256", headers=headers)
    settings = settings_for(jwks.url if url_configured else "")
    assert rejected(token, settings).details["reason"] == "asymmetric token without a resolvable key"
    assert jwks.fetches == 0


def test_a_jwks_that_is_not_an_object_is_no_keys(jwks: JwksServer) -> None:
    key = ec_key()
    jwks.document = [public_jwk(key, "k1")]
    token = jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "k1"})
    assert rejected(token, settings_for(jwks.url)).details["reason"] == "unknown signing key"


def test_a_hanging_jwks_endpoint_fails_within_the_fetch_timeout(jwks: JwksServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "JWKS_FETCH_TIMEOUT_SECONDS", 0.3)
    jwks.delay = 3.0
    key = ec_key()
    token = jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "k1"})
    outcome: list[AppError] = []
    worker = threading.Thread(target=lambda: outcome.append(rejected(token, settings_for(jwks.url))), daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(timeout=2.0)
    assert not worker.is_alive(), "the JWKS fetch waited past its timeout"
    assert time.monotonic() - started < 2.0
    assert outcome[0].details["reason"] == "unknown signing key"


def test_an_expiry_within_the_clock_skew_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyJWT's clock frozen 0.9 s past `now`: a loaded machine's pause between encoding and verifying cannot flake it."""
    now = int(time.time())

    class FrozenClock(datetime.datetime):
        @classmethod
        def now(cls, tz: datetime.tzinfo | None = None) -> "FrozenClock":
            return cls.fromtimestamp(now + 0.9, tz)

    monkeypatch.setattr(jwt.api_jwt, "datetime", FrozenClock)
    exp = now - (auth.CLOCK_SKEW_SECONDS - 1)
    assert verify_token(jwt.encode(claims(exp=exp), SECRET, algorithm="HS256"), settings_for())


def test_an_expiry_just_past_the_clock_skew_is_rejected() -> None:
    exp = math.ceil(time.time()) - (auth.CLOCK_SKEW_SECONDS + 1)
    assert rejected(jwt.encode(claims(exp=exp), SECRET, algorithm="HS256"), settings_for()).details["reason"] == (
        "ExpiredSignatureError"
    )


def test_the_clock_skew_is_five_seconds() -> None:
    assert auth.CLOCK_SKEW_SECONDS == 5
