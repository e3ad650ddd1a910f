"""Where every benchmark writes its results JSON, and how: a git-ignored folder unless publishing is asked for.

    .local/bench-results/   the default: a user's `make bench` or `make load` leaves the git tree clean
    $BENCH_RESULTS_DIR      any other folder (relative to the working directory)
    bench/results/          tracked, the README's figures: `--publish`, or BENCH_RESULTS_DIR=bench/results

`python -m bench.run_all --report` reads the same folder, chosen the same way.
"""

import argparse
import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED_DIR = ROOT / "bench" / "results"
LOCAL_DIR = ROOT / ".local" / "bench-results"
ENV_VAR = "BENCH_RESULTS_DIR"


def results_dir(publish: bool = False) -> Path:
    if publish:
        return PUBLISHED_DIR
    configured = os.environ.get(ENV_VAR)
    return Path(configured).resolve() if configured else LOCAL_DIR


def add_publish_flag(parser: argparse.ArgumentParser, what: str = "write into") -> None:
    parser.add_argument(
        "--publish",
        action="store_true",
        help=f"{what} the tracked bench/results/ (the README's figures) instead of ${ENV_VAR} or .local/bench-results/",
    )


def write_results(results: dict[str, Any], path: Path) -> None:
    """Through a temporary file, so an interrupted run never leaves half a JSON behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.tmp")
    partial.write_text(json.dumps(results, indent=2, default=str) + "\n")
    partial.replace(path)


def shown(path: Path) -> str:
    """The path as printed after a run: relative to the repository when inside it."""
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)
