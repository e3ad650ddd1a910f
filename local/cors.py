"""CORS as the HTTP API applies it: template.yaml's CorsConfiguration, with the allowed origins from the setting
CORS_ALLOW_ORIGINS (what the template's CorsAllowOrigins parameter is in AWS).

API Gateway answers a preflight itself (OPTIONS with Origin and Access-Control-Request-Method, whatever the routes),
adds its CORS headers to every other response from an allowed origin, and drops any CORS header a function returns.
An origin not in the list gets the same status and body with no CORS header, so the browser refuses it.
"""

from dataclasses import dataclass
from functools import cache
from typing import Any

from agentmode.settings import get_settings
from local.template_routes import load_template

HTTP_API = "AWS::Serverless::HttpApi"


@dataclass(frozen=True)
class CorsConfiguration:
    allow_headers: tuple[str, ...]
    allow_methods: tuple[str, ...]
    expose_headers: tuple[str, ...]
    max_age: int
    allow_credentials: bool


@cache
def template_cors() -> CorsConfiguration:
    """The HttpApi's CorsConfiguration in template.yaml (its origins are a parameter, read from the settings here)."""
    template = load_template()
    api: dict[str, Any] = next(r["Properties"] for r in template["Resources"].values() if r["Type"] == HTTP_API)
    configuration = api["CorsConfiguration"]
    return CorsConfiguration(
        allow_headers=tuple(configuration.get("AllowHeaders", ())),
        allow_methods=tuple(configuration.get("AllowMethods", ())),
        expose_headers=tuple(configuration.get("ExposeHeaders", ())),
        max_age=int(configuration.get("MaxAge", 0)),
        allow_credentials=bool(configuration.get("AllowCredentials", False)),
    )


def allow_origin(origin: str) -> str | None:
    """The Access-Control-Allow-Origin value for `origin`, or None when it is not allowed. Besides exact origins, API
    Gateway takes `*` (any origin, answered as `*`) and `https://*` or `http://*` (any origin of that scheme)."""
    for allowed in get_settings().allowed_origins():
        if allowed == "*":
            return "*"
        if allowed == origin or (allowed.endswith("://*") and origin.startswith(allowed[:-1])):
            return origin
    return None


def is_preflight(method: str, origin: str | None, requested_method: str | None) -> bool:
    """What API Gateway answers itself: OPTIONS with Origin and Access-Control-Request-Method (other OPTIONS are routed)."""
    return method == "OPTIONS" and bool(origin) and bool(requested_method)


def preflight_headers(origin: str) -> dict[str, str]:
    allowed = allow_origin(origin)
    if allowed is None:
        return {}
    cors = template_cors()
    return {
        "access-control-allow-origin": allowed,
        "access-control-allow-methods": ",".join(cors.allow_methods),
        "access-control-allow-headers": ",".join(cors.allow_headers),
        "access-control-max-age": str(cors.max_age),
    } | _credentials(cors)


def _credentials(cors: CorsConfiguration) -> dict[str, str]:
    return {"access-control-allow-credentials": "true"} if cors.allow_credentials else {}


def with_cors(headers: dict[str, str], origin: str | None) -> dict[str, str]:
    """A response's headers as API Gateway sends them: the function's own CORS headers replaced by the configured ones."""
    kept = {name: value for name, value in headers.items() if not name.lower().startswith("access-control-")}
    allowed = allow_origin(origin) if origin else None
    if allowed is None:
        return kept
    cors = template_cors()
    exposed = cors.expose_headers
    return (
        kept
        | {"access-control-allow-origin": allowed}
        | ({"access-control-expose-headers": ",".join(exposed)} if exposed else {})
        | _credentials(cors)
    )
