"""A user's benchmark run writes its results outside the tracked tree; only publishing writes into bench/results/."""

import subprocess
from pathlib import Path

import pytest

from bench.results_dir import ENV_VAR, PUBLISHED_DIR, ROOT, results_dir


def git_ignores(path: Path) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=ROOT, check=False).returncode == 0  # noqa: S603, S607


def test_results_go_to_a_git_ignored_folder_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert git_ignores(results_dir() / "load.json")


def test_publishing_writes_into_the_tracked_results(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert results_dir(publish=True) == PUBLISHED_DIR
    assert not git_ignores(PUBLISHED_DIR / "load.json")


def test_the_environment_names_another_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert results_dir() == tmp_path.resolve()
