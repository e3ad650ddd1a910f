"""The README's "Benchmarks" table is the one the committed bench/results/*.json give, figure for figure, with the
machine and day of each benchmark under it."""

from bench.headline_table import collect, machines_line, markdown
from bench.results_dir import PUBLISHED_DIR, ROOT


def readme_benchmarks_lines() -> list[str]:
    section = (ROOT / "README.md").read_text().split("\n## Benchmarks\n", 1)[1].split("\n## ", 1)[0]
    return section.splitlines()


def readme_benchmarks_table() -> list[str]:
    """The first markdown table of the README's "Benchmarks" section, line by line."""
    lines = readme_benchmarks_lines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Benchmark |"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line)
    return table


def test_readme_benchmarks_table_equals_the_committed_results() -> None:
    rows, _ = collect(PUBLISHED_DIR)
    assert readme_benchmarks_table() == markdown(rows).splitlines()


def test_every_benchmark_has_committed_results() -> None:
    rows, _ = collect(PUBLISHED_DIR)
    assert [row["benchmark"] for row in rows if row["measure"] == "not run yet"] == []


def test_the_readme_names_the_machine_and_day_of_each_committed_result_under_the_table() -> None:
    rows, machines = collect(PUBLISHED_DIR)
    lines = readme_benchmarks_lines()
    after_table = lines.index(markdown(rows).splitlines()[-1]) + 1
    assert lines[after_table : after_table + 2] == ["", machines_line(machines)]
