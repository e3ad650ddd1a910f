"""What bench.functions measures: a private copy of the build, each function's environment as template.yaml sets it,
and each handler with the requests it will be sent (bench.functions_requests makes the data they need)."""

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.functions_config import BASELINE, BASELINE_DIR, FUNCTIONS, LAYER, WARM_NET_OF
from local.build import BUILD_DIR, compile_bytecode
from local.template_routes import load_template

EventFactory = Callable[[], dict[str, Any]]
# Lambda's own default when a function sets no Timeout; the baseline's.
DEFAULT_TIMEOUT_SECONDS = 3


@dataclass(frozen=True)
class Target:
    """One handler to measure: its code folders, how to make its next request, what its answer must carry."""

    name: str  # the function's logical id in template.yaml, or "<id> <route>" for a route measured warm only
    python_path: tuple[Path, ...]
    expected: dict[str, Any]
    next_event: EventFactory
    env: dict[str, str] = field(default_factory=dict)
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    cold: bool = True

    @property
    def function(self) -> str:
        return self.name.split(" ", 1)[0]

    @property
    def net_of(self) -> tuple[str, str] | None:
        excluded = WARM_NET_OF.get(self.name)
        return (excluded[0], excluded[1]) if excluded else None


def snapshot_build(work_dir: Path) -> Path:
    """A private copy of the build as `make build` made it (a build meanwhile, e.g. by the tests, would swap the code
    mid-run), with the baseline beside it, compiled the same way."""
    if not BUILD_DIR.is_dir():
        raise BenchError(f"{BUILD_DIR} is missing; run `make build` first")
    build = shutil.copytree(BUILD_DIR, work_dir / "build", symlinks=True)
    missing = [path for path in [build / LAYER, *(build / name / "app.py" for name in FUNCTIONS)] if not path.exists()]
    if missing:
        raise BenchError(f"incomplete build: {', '.join(map(str, missing))}; run `make build` first")
    shutil.copytree(BASELINE_DIR, build / BASELINE, ignore=shutil.ignore_patterns("__pycache__"))
    compile_bytecode(build / BASELINE)
    return build


@dataclass(frozen=True)
class Deployment:
    """What template.yaml gives each function: its variables, with each `!Ref` to a resource or parameter resolved from
    `refs` (the bench's stand-ins) or else the parameter's default; `!Sub` values (the secrets' ids) are left out, the
    bench gives the plain values instead (bench.functions_children.base_env). Its Timeout, for the context."""

    refs: dict[str, str]
    template: dict[str, Any] = field(default_factory=load_template)

    def _properties(self, function: str) -> dict[str, Any]:
        properties: dict[str, Any] = self.template["Resources"][function]["Properties"]
        return properties

    def environment(self, function: str) -> dict[str, str]:
        parameters = self.template.get("Parameters", {})
        env = {}
        for name, value in self._properties(function).get("Environment", {}).get("Variables", {}).items():
            if isinstance(value, dict) and "Ref" in value:
                value = self.refs.get(value["Ref"], parameters.get(value["Ref"], {}).get("Default", ""))
            if isinstance(value, str | int) and str(value):  # an empty parameter is a setting left at its default
                env[name] = str(value)
        return env

    def timeout_seconds(self, function: str) -> float:
        globals_timeout = self.template.get("Globals", {}).get("Function", {}).get("Timeout", DEFAULT_TIMEOUT_SECONDS)
        return float(self._properties(function).get("Timeout", globals_timeout))

    def target(self, name: str, build: Path, expected: dict[str, Any], next_event: EventFactory, **env: str) -> Target:
        """`name`'s handler from the build (Lambda's path order: the function's folder, /var/task, before the layer,
        /opt/python), in its template environment plus `env` (what Lambda adds, such as its credentials)."""
        function = name.split(" ", 1)[0]
        return Target(
            name,
            (build / function, build / LAYER),
            expected,
            next_event,
            {**self.environment(function), **env},
            self.timeout_seconds(function),
            cold=name == function,
        )
