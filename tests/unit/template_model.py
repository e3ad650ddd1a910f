"""template.yaml and samconfig.toml as the template tests read them: resources, each function's settings with the
Globals merged in as SAM merges them, parameter defaults, and the intrinsic functions the Rules and Conditions use,
evaluated for given parameter values as CloudFormation would."""

import ast
import operator
import re
import shlex
import tomllib
from collections.abc import Callable, Mapping
from typing import Any

from local.stack import ROOT
from local.template_routes import load_template

TEMPLATE: dict[str, Any] = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]
FUNCTION_GLOBALS: dict[str, Any] = TEMPLATE["Globals"]["Function"]
FUNCTIONS: dict[str, dict[str, Any]] = {
    name: resource["Properties"] for name, resource in RESOURCES.items() if resource["Type"] == "AWS::Serverless::Function"
}
ALARMS: dict[str, dict[str, Any]] = {
    name: resource["Properties"] for name, resource in RESOURCES.items() if resource["Type"] == "AWS::CloudWatch::Alarm"
}
SECRET_ID_SUFFIX = "_SECRET_ID"

Values = Mapping[str, str | list[str]]


def environment(function: str) -> dict[str, Any]:
    """The function's Environment Variables over the Globals' (SAM merges the two maps, the function's winning)."""
    merged: dict[str, Any] = FUNCTION_GLOBALS["Environment"]["Variables"] | FUNCTIONS[function]["Environment"]["Variables"]
    return merged


def layers(function: str) -> list[Any]:
    """The Globals' layers, then the function's own (SAM appends lists)."""
    return [*FUNCTION_GLOBALS.get("Layers", []), *FUNCTIONS[function].get("Layers", [])]


def secret_settings(function: str) -> set[str]:
    """The settings whose secret the function's environment names (<SETTING>_SECRET_ID)."""
    return {name.removesuffix(SECRET_ID_SUFFIX) for name in environment(function) if name.endswith(SECRET_ID_SUFFIX)}


def parameter_defaults() -> dict[str, str | list[str]]:
    return {name: _as_value(p, p["Default"]) for name, p in PARAMETERS.items() if "Default" in p}


def parameters(**overrides: str) -> dict[str, str | list[str]]:
    """Deploy-time parameter values: the defaults, with overrides given as `sam deploy --parameter-overrides` writes them."""
    return parameter_defaults() | {name: _as_value(PARAMETERS[name], value) for name, value in overrides.items()}


def _as_value(parameter: dict[str, Any], value: Any) -> str | list[str]:
    if parameter["Type"] == "CommaDelimitedList":
        return [item.strip() for item in str(value).split(",")]
    return str(value)


def evaluate(node: Any, values: Values) -> Any:
    """A Rules/Conditions expression (Ref, Equals, Not, And, Or, Contains, If, Condition) for these parameter values."""
    if not isinstance(node, dict):
        return node
    [(key, argument)] = node.items()
    function = key.removeprefix("Fn::")
    if function == "Ref":
        return values[argument]
    if function == "Condition":
        return evaluate(TEMPLATE["Conditions"][argument], values)
    if function == "If":
        condition, when_true, when_false = argument
        return evaluate(when_true if evaluate({"Condition": condition}, values) else when_false, values)
    arguments = [evaluate(item, values) for item in argument]
    if function == "Equals":
        return str(arguments[0]) == str(arguments[1])
    if function == "Not":
        return not arguments[0]
    if function == "And":
        return all(arguments)
    if function == "Or":
        return any(arguments)
    if function == "Contains":
        return arguments[1] in arguments[0]
    raise AssertionError(f"no evaluation for {key}")


def condition(name: str, values: Values) -> bool:
    return bool(evaluate(TEMPLATE["Conditions"][name], values))


def refusals(values: Values) -> list[str]:
    """The AssertDescription of every Rules assertion these parameter values fail: CloudFormation refuses the deploy."""
    failed = []
    for rule in TEMPLATE["Rules"].values():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], values):
            continue
        failed += [a["AssertDescription"] for a in rule["Assertions"] if not evaluate(a["Assert"], values)]
    return failed


def allows(parameter: str, value: str) -> bool:
    """Whether CloudFormation takes this value for the parameter (its AllowedPattern matches the whole value)."""
    return re.fullmatch(PARAMETERS[parameter]["AllowedPattern"], value) is not None


def substitute(template: str, values: Values) -> str:
    """A plain Fn::Sub string with ${Parameter} references filled in."""
    return re.sub(r"\$\{(\w+)\}", lambda match: str(values[match[1]]), template)


_OPERATORS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def metric_math(expression: str, series: Mapping[str, float]) -> float:
    """One datapoint of a CloudWatch metric math expression (arithmetic, >=, IF) given each metric's value."""

    def value(node: ast.expr) -> float:
        match node:
            case ast.Constant(value=int() | float() as number):
                return float(number)
            case ast.Name(id=name):
                return series[name]
            case ast.BinOp(left=left, op=op, right=right):
                return _OPERATORS[type(op)](value(left), value(right))
            case ast.Compare(left=left, ops=[ast.GtE()], comparators=[right]):
                return float(value(left) >= value(right))
            case ast.Call(func=ast.Name(id="IF"), args=[test, when_true, when_false]):
                return value(when_true) if value(test) else value(when_false)
        raise AssertionError(f"no evaluation for {ast.dump(node)}")

    return value(ast.parse(expression, mode="eval").body)


def samconfig() -> dict[str, Any]:
    with (ROOT / "samconfig.toml").open("rb") as handle:
        return tomllib.load(handle)


def overrides(config_env: str) -> dict[str, str]:
    """A samconfig environment's parameter_overrides, as `sam deploy --config-env` passes them."""
    pairs = shlex.split(samconfig()[config_env]["deploy"]["parameters"]["parameter_overrides"])
    return dict(pair.split("=", 1) for pair in pairs)
