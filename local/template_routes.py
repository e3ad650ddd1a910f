"""The routes of template.yaml (their one source of truth), read the way API Gateway HTTP API matches them."""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from local.stack import ROOT

TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc] # PyYAML ships no type hints
    """Reads CloudFormation short-form tags (!Ref, !Sub, !GetAtt ...) as plain values."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    assert isinstance(node, yaml.MappingNode)
    return {suffix: loader.construct_mapping(node, deep=True)}


_CfnLoader.add_multi_constructor("!", _construct_tag)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    code_uri: Path
    handler: str
    memory_mb: int
    timeout_seconds: int
    service: str

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(self.path))
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
        return re.compile(f"^{regex}$")

    @property
    def greedy(self) -> bool:
        return "+}" in self.path


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open() as handle:
        template: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return template


def _variables(properties: dict[str, Any]) -> dict[str, Any]:
    """A function's (or Globals') Environment Variables."""
    variables: dict[str, Any] = properties.get("Environment", {}).get("Variables", {})
    return variables


def load_routes(path: Path = TEMPLATE) -> list[Route]:
    template = load_template(path)
    function_globals = template.get("Globals", {}).get("Function", {})
    routes = []
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        variables = _variables(function_globals) | _variables(props)
        for event in props.get("Events", {}).values():
            if event["Type"] != "HttpApi":
                continue
            routes.append(
                Route(
                    method=event["Properties"]["Method"].upper(),
                    path=event["Properties"]["Path"],
                    function=name,
                    code_uri=(path.parent / props["CodeUri"]).resolve(),
                    handler=props["Handler"],
                    memory_mb=int(props.get("MemorySize", function_globals.get("MemorySize", 128))),
                    timeout_seconds=int(props.get("Timeout", function_globals.get("Timeout", 3))),
                    # What Powertools names a function's log lines and metrics in Lambda (its default when unset).
                    service=str(variables.get("POWERTOOLS_SERVICE_NAME", "service_undefined")),
                )
            )
    return routes


def _variable_segments(path: str) -> tuple[bool, ...]:
    return tuple(segment.startswith("{") for segment in path.strip("/").split("/"))


def match_route(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The most specific route, as API Gateway chooses: exact routes before greedy ones, a literal segment before a
    path variable in the same place (`/orgs/invites` before `/orgs/{org_id}`), a route's own method before ANY."""
    ordered = sorted(routes, key=lambda r: (r.greedy, _variable_segments(r.path), r.method == "ANY", -len(r.path)))
    for route in ordered:
        if route.method not in (method, "ANY"):
            continue
        found = route.pattern.match(path)
        if found:
            return route, found.groupdict()
    return None
