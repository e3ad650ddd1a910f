"""`make build`: `sam build` (no container), then bytecode for every module in the build output.

Lambda's code folders are read-only, so Python can never cache what it compiles there: without shipped `.pyc`
files every cold start compiles every module it imports. They are compiled here with unchecked hashes, because
zip archives keep modification times only to two seconds, which would make timestamp-checked files look stale.
"""

import compileall
import os
import py_compile
import shutil
import subprocess
import sys
from pathlib import Path

from local.stack import ROOT

BUILD_DIR = ROOT / ".aws-sam" / "build"
SAM = os.environ.get("SAM_CLI", str(ROOT / ".venv-sam" / "bin" / "sam"))


def compile_bytecode(directory: Path) -> None:
    """Replaces whatever bytecode is there (a test or tool may have imported the build) with a fresh, complete set."""
    for cache in directory.rglob("__pycache__"):
        shutil.rmtree(cache)
    ok = compileall.compile_dir(directory, quiet=1, workers=0, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    if not ok:
        raise RuntimeError(f"bytecode compilation failed under {directory}")


def build() -> Path:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    subprocess.run([SAM, "build", "--cached", "--parallel"], cwd=ROOT, env=env, check=True)  # noqa: S603 - our SAM CLI
    compile_bytecode(BUILD_DIR)
    return BUILD_DIR


if __name__ == "__main__":
    if sys.version_info[:2] != (3, 11):
        sys.exit("build with Python 3.11: the bytecode must match the Lambda runtime (python3.11)")
    build()
