"""Which secret settings a function's code reads: `secret_value("<secret field>")` or `is_configured(…)`
(agentmode.runtime_secrets), or a `.<secret field>` of the settings, in its own folder or in a layer module it
imports, directly or through other layer modules (imports made for type checking only do not count)."""

import ast
from pathlib import Path

from pydantic import SecretStr

from agentmode.settings import Settings
from local.stack import ROOT

LAYER = ROOT / "layers" / "common"
SECRET_FIELDS = {name for name, field in Settings.model_fields.items() if field.annotation is SecretStr}
SECRET_READERS = {"secret_value", "is_configured"}


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under `if TYPE_CHECKING:`."""
    found: list[ast.AST] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            pending.extend(node.orelse)
            continue
        found.append(node)
        pending.extend(ast.iter_child_nodes(node))
    return found


def _secret_named(node: ast.AST) -> str | None:
    """The field a node reads: `settings.<field>`, or the literal first argument of a runtime_secrets reader."""
    if isinstance(node, ast.Attribute) and node.attr in SECRET_FIELDS:
        return node.attr
    if not isinstance(node, ast.Call) or not node.args or not isinstance(node.args[0], ast.Constant):
        return None
    called = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
    field = node.args[0].value
    return field if called in SECRET_READERS and field in SECRET_FIELDS else None


def _layer_module(dotted: str) -> Path | None:
    path = LAYER / (dotted.replace(".", "/") + ".py")
    return path if dotted.startswith("agentmode") and path.is_file() else None


def _imports(nodes: list[ast.AST]) -> set[Path]:
    modules: set[Path] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            modules |= {p for alias in node.names if (p := _layer_module(alias.name))}
        elif isinstance(node, ast.ImportFrom) and node.module:
            candidates = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            modules |= {p for name in candidates if (p := _layer_module(name))}
    return modules


def secrets_read_by(function_dir: Path) -> set[str]:
    """The SETTING_NAMEs of the secrets the function's code reads."""
    pending = set(function_dir.rglob("*.py"))
    seen: set[Path] = set()
    read: set[str] = set()
    while pending:
        source = pending.pop()
        seen.add(source)
        nodes = _runtime_nodes(ast.parse(source.read_text()))
        read |= {field.upper() for node in nodes if (field := _secret_named(node))}
        pending |= _imports(nodes) - seen
    return read
