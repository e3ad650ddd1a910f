"""Which secret settings a function's code reads: a `.<secret field>` of the settings in its own folder, or in a layer
module it imports, directly or through other layer modules (imports made for type checking only do not count)."""

import ast
from pathlib import Path

from pydantic import SecretStr

from agentmode.settings import Settings
from local.stack import ROOT

LAYER = ROOT / "layers" / "common"
SECRET_FIELDS = {name for name, field in Settings.model_fields.items() if field.annotation is SecretStr}


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
        read |= {node.attr.upper() for node in nodes if isinstance(node, ast.Attribute) and node.attr in SECRET_FIELDS}
        pending |= _imports(nodes) - seen
    return read
