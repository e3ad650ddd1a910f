"""Loads `functions/<name>/app.handler` as Lambda would, with the layer on the path, and a Lambda context for it."""

import importlib.util
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.stack import ROOT

LAYER_DIR = ROOT / "layers" / "common"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int = 512
    timeout_seconds: int = 10
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:local:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def use_layer() -> None:
    """Puts the layer where Lambda puts it (/opt/python): on the import path."""
    if str(LAYER_DIR) not in sys.path:
        sys.path.insert(0, str(LAYER_DIR))


def load_handler(code_uri: Path, handler: str = "app.handler") -> Handler:
    """Imports `code_uri/<module>.py` under a unique name, so every function's `app` module can share one process."""
    module_name, _, attribute = handler.rpartition(".")
    use_layer()
    if str(code_uri) not in sys.path:
        sys.path.insert(0, str(code_uri))
    unique = f"lambda_{code_uri.name}_{module_name}"
    if unique not in sys.modules:
        spec = importlib.util.spec_from_file_location(unique, code_uri / f"{module_name}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        spec.loader.exec_module(module)
    loaded: Handler = getattr(sys.modules[unique], attribute)
    return loaded
