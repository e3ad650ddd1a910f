"""`make build`: `sam build` (no container), the layer's packages taken out of the functions, then bytecode for every
module in the build output.

`sam build` installs a function's requirements with all their dependencies, so a function that needs supabase or
stripe got its own copy of pydantic, cryptography, PyJWT... which the layer already ships: a bigger package to load
on every cold start, and a copy that shadows the layer's (the function's folder comes first on Lambda's path). Each
package installed in a function that the layer holds at the same version is removed from the function, file by file
as its RECORD lists them; a different version is an error to fix in the requirements, not something to ship.

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


LAYER_PACKAGES = BUILD_DIR / "CommonLayer" / "python"


def installed(folder: Path) -> dict[str, Path]:
    """Each distribution installed in `folder` by normalized name, to its dist-info folder."""
    return {_normalized(info.name.removesuffix(".dist-info").rsplit("-", 1)[0]): info for info in folder.glob("*.dist-info")}


def _normalized(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _version(info: Path) -> str:
    return info.name.removesuffix(".dist-info").rsplit("-", 1)[1]


def drop_layer_packages(function_dir: Path, layer_dir: Path = LAYER_PACKAGES) -> list[str]:
    """Removes from `function_dir` every distribution the layer has at the same version; returns their names."""
    in_layer = installed(layer_dir)
    dropped = []
    for name, info in sorted(installed(function_dir).items()):
        if name not in in_layer:
            continue
        if _version(info) != _version(in_layer[name]):
            raise RuntimeError(f"{function_dir.name} installs {info.name}, the layer {in_layer[name].name}: pin one version")
        for line in (info / "RECORD").read_text().splitlines():
            listed = (function_dir / line.split(",", 1)[0]).resolve()
            if listed.is_relative_to(function_dir.resolve()) and listed.is_file():
                listed.unlink()
        shutil.rmtree(info, ignore_errors=True)
        dropped.append(name)
    for folder in sorted((p for p in function_dir.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    return dropped


def build() -> Path:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    subprocess.run([SAM, "build", "--cached", "--parallel"], cwd=ROOT, env=env, check=True)  # noqa: S603 - our SAM CLI
    for function_dir in BUILD_DIR.glob("*Function"):
        drop_layer_packages(function_dir)
    compile_bytecode(BUILD_DIR)
    return BUILD_DIR


if __name__ == "__main__":
    if sys.version_info[:2] != (3, 11):
        sys.exit("build with Python 3.11: the bytecode must match the Lambda runtime (python3.11)")
    build()
