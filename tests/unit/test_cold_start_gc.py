"""Each function's module turns the garbage collector off for its imports and, by making its handler, freezes what
they built and turns it back on (agentmode.lambda_entry.lambda_handler): a function left without collection would
grow for its container's life."""

import subprocess
import sys
from typing import Any

from local.stack import ROOT
from tests.unit.template_model import FUNCTIONS

PROBE = """
import gc, sys
from pathlib import Path
from local.lambda_runtime import load_handler
load_handler(Path(sys.argv[1]))
print(gc.isenabled(), gc.get_freeze_count() > 0)
"""


def serves_http(properties: dict[str, Any]) -> bool:
    return any(event["Type"] == "HttpApi" for event in properties.get("Events", {}).values())


def test_every_function_collects_garbage_once_its_handler_exists() -> None:
    for name, properties in FUNCTIONS.items():
        code_uri = ROOT / properties["CodeUri"]
        probe = subprocess.run(  # noqa: S603 - this interpreter on a fixed snippet
            [sys.executable, "-c", PROBE, str(code_uri)], cwd=ROOT, capture_output=True, text=True, check=True
        )
        # The scheduled functions (no FastAPI) import too little to bother: collection simply stays on.
        assert probe.stdout.split()[-2:] == ["True", str(serves_http(properties))], name
