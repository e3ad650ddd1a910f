"""Every benchmark, then one table of their headline figures against their targets: the README's "Benchmarks" table.

    python -m bench.run_all                     # runs them all (about 15 minutes on 2 cores), then the table
    python -m bench.run_all --report            # only the table, from the results already there
    python -m bench.run_all --publish           # runs them all into the tracked bench/results/, then the table
    python -m bench.run_all --report --publish  # the README's table, from the committed bench/results/

One results folder serves both the runs and the table (bench.results_dir): .local/bench-results/ (git-ignored) unless
$BENCH_RESULTS_DIR names another or --publish picks bench/results/. Each benchmark writes its own results file there,
with its method and machine; this reads them back, prints the table (bench.headline_table) and writes summary.json
beside them.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bench.headline_table import BENCHMARKS, collect, machines_line, markdown
from bench.results_dir import ENV_VAR, add_publish_flag, results_dir


def run_benchmarks(folder: Path) -> None:
    """Each benchmark in its own interpreter, told the folder through the environment (their own default otherwise)."""
    env = {**os.environ, ENV_VAR: str(folder)}
    for name in BENCHMARKS:
        print(f"== bench.{name}", flush=True)
        subprocess.run([sys.executable, "-m", f"bench.{name}"], check=True, env=env)  # noqa: S603 - our own modules


def report(folder: Path) -> None:
    rows, machines = collect(folder)
    print(markdown(rows))
    print(f"\n{machines_line(machines)}\n\nresults from {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps({"rows": rows, "machines": machines}, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run_all", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--report", action="store_true", help="only print the table from the existing results")
    add_publish_flag(parser, what="run into and report from")
    args = parser.parse_args()
    folder = results_dir(args.publish)
    if not args.report:
        run_benchmarks(folder)
    report(folder)


if __name__ == "__main__":
    main()
