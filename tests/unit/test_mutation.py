"""scripts/mutation.py: which mutants it makes, how it scores them, and that a file it mutates always comes back."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts import mutation

REPO = Path(__file__).resolve().parents[2]
CALC = b"""LIMIT = 10


def is_small(x: int) -> bool:
    return x < LIMIT


def add(a: int, b: int) -> int:
    return a + b
"""
CALC_TESTS = b"""import calc


def test_small() -> None:
    assert calc.is_small(3)
    assert not calc.is_small(30)


def test_add() -> None:
    assert calc.add(2, 3) == 5
"""


def git(root: Path, *args: str) -> None:
    identity = ("-c", "user.email=t@example.com", "-c", "user.name=t")
    subprocess.run([mutation.GIT, *identity, *args], cwd=root, check=True, capture_output=True)  # noqa: S603 - fixed git commands


def project(root: Path, files: dict[str, bytes]) -> Path:
    """A committed git repository holding `files`."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (root / name).write_bytes(content)
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "files")
    return root


def target(source: str, *tests: str) -> mutation.Target:
    return mutation.Target(Path(source).stem, tests, source=source)


def changes(mutants: list[mutation.Mutant]) -> set[tuple[int, str]]:
    return {(mutant.line, mutant.change) for mutant in mutants}


def test_python_mutants_make_one_change_each(tmp_path: Path) -> None:
    source = tmp_path / "rules.py"
    source.write_text(
        "def allowed(user, limit=3):\n"
        "    if not user.active and user.used >= limit:\n"
        "        raise PermissionError(user)\n"
        "    log(user)\n"
        "    return max(user.used + 1, 0) == limit or False\n"
    )
    found = changes(mutation.python_mutants(source))
    assert {
        (1, "`3` -> `4`"),
        (2, "drop `not` in `not user.active`"),
        (2, "`and` -> `or` in `not user.active and user.used >= limit`"),
        (2, "`>=` -> `>` in `user.used >= limit`"),
        (3, "remove `raise PermissionError(user)`"),
        (4, "remove `log(user)`"),
        (5, "`return max(user.used + 1, 0) == limit or False` -> `return None`"),
        (5, "`max` -> `min` in `max(user.used + 1, 0)`"),
        (5, "`max(user.used + 1, 0)` -> `user.used + 1`"),
        (5, "`+` -> `-` in `user.used + 1`"),
        (5, "`False` -> `True`"),
    } <= found


def test_each_python_mutant_compiles_and_differs_from_the_original(tmp_path: Path) -> None:
    source = tmp_path / "calc.py"
    source.write_bytes(CALC)
    mutants = mutation.python_mutants(source)
    for mutant in mutants:
        compile(mutant.text, "calc.py", "exec")
    assert len({mutant.text for mutant in mutants}) == len(mutants)
    assert CALC not in {mutant.text for mutant in mutants}


def test_signature_annotations_are_not_mutated(tmp_path: Path) -> None:
    source = tmp_path / "typed.py"
    source.write_text("def pad(values: tuple[int, 5], width: 'Literal[1]' = 2) -> list[1]:\n    return values\n")
    assert changes(mutation.python_mutants(source)) == {
        (1, "`2` -> `3`"),
        (1, "`2` -> `1`"),
        (2, "`return values` -> `return None`"),
    }


SQL = """-- Mutated only inside the named function's body.
CREATE FUNCTION app.take(p_user uuid, p_limit integer) RETURNS boolean
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_used integer := 0;
BEGIN
  IF p_limit < 0 OR NOT FOUND THEN
    RAISE EXCEPTION 'bad limit AND more' USING ERRCODE = '22023';
  END IF;
  DELETE FROM app.hits h
   WHERE h.user_id = p_user;  -- prune AND count
  RETURN v_used >= p_limit;
END
$$;

CREATE FUNCTION app.other(p integer) RETURNS integer LANGUAGE sql AS $$
  SELECT p + 1 WHERE p > 0;
$$;
"""


def test_sql_mutants_change_only_the_named_functions_code(tmp_path: Path) -> None:
    source = tmp_path / "0001_take.sql"
    source.write_text(SQL)
    found = changes(mutation.sql_mutants(source, frozenset({"take"})))
    assert found == {
        (5, "`v_used integer := 0;` -> `v_used integer := 1;`"),
        (5, "`v_used integer := 0;` -> `v_used integer := -1;`"),
        (7, "`IF p_limit < 0 OR NOT FOUND THEN` -> `IF p_limit <= 0 OR NOT FOUND THEN`"),
        (7, "`IF p_limit < 0 OR NOT FOUND THEN` -> `IF p_limit < 1 OR NOT FOUND THEN`"),
        (7, "`IF p_limit < 0 OR NOT FOUND THEN` -> `IF p_limit < -1 OR NOT FOUND THEN`"),
        (7, "`IF p_limit < 0 OR NOT FOUND THEN` -> `IF p_limit < 0 AND NOT FOUND THEN`"),
        (7, "`IF p_limit < 0 OR NOT FOUND THEN` -> `IF p_limit < 0 OR FOUND THEN`"),
        (8, "remove `RAISE EXCEPTION 'bad limit AND more' USING ERRCODE = '22023';`"),
        (10, "remove `DELETE FROM app.hits h`"),
        (11, "`WHERE h.user_id = p_user;  -- prune AND count` -> `WHERE h.user_id <> p_user;  -- prune AND count`"),
        (12, "`RETURN v_used >= p_limit;` -> `RETURN v_used > p_limit;`"),
    }


def test_a_removed_statement_spanning_lines_is_replaced_whole(tmp_path: Path) -> None:
    source = tmp_path / "0001_take.sql"
    source.write_text(SQL)
    [removed] = [m for m in mutation.sql_mutants(source, frozenset({"take"})) if m.change.startswith("remove `DELETE")]
    assert removed.text.decode().splitlines()[9:11] == ["  NULL;", ""]


def test_the_newest_migration_defining_a_function_is_the_one_mutated(tmp_path: Path) -> None:
    (tmp_path / "0001_first.sql").write_text(
        "CREATE FUNCTION app.take(p integer) RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$;\n"
    )
    (tmp_path / "0002_other.sql").write_text("CREATE TABLE app.t (id integer);\n")
    (tmp_path / "0003_again.sql").write_text(
        "CREATE OR REPLACE FUNCTION app.take(p integer) RETURNS integer\nAS $$\n SELECT 2\n$$;\n"
    )
    assert mutation.newest_definition(tmp_path, "take") == tmp_path / "0003_again.sql"


def test_a_mutant_the_tests_miss_survives_and_the_rest_are_killed(tmp_path: Path) -> None:
    root = project(tmp_path / "calc", {"calc.py": CALC, "test_calc.py": CALC_TESTS})
    before = (root / "calc.py").stat()
    known = mutation.Known(equivalent=frozenset({(1, "`10` -> `9`")}))
    results = mutation.run_target(target("calc.py", "test_calc.py"), root, known=known, timeout=60)
    outcomes = {(result.mutant.line, result.mutant.change): result.outcome for result in results}
    assert outcomes == {
        (1, "`10` -> `11`"): mutation.SURVIVED,
        (1, "`10` -> `9`"): mutation.EQUIVALENT,
        (5, "`return x < LIMIT` -> `return None`"): mutation.KILLED,
        (5, "`<` -> `<=` in `x < LIMIT`"): mutation.SURVIVED,
        (9, "`return a + b` -> `return None`"): mutation.KILLED,
        (9, "`+` -> `-` in `a + b`"): mutation.KILLED,
    }
    assert ((root / "calc.py").read_bytes(), (root / "calc.py").stat().st_mtime_ns) == (CALC, before.st_mtime_ns)


def test_the_score_is_killed_out_of_the_mutants_that_are_not_equivalent() -> None:
    def result(outcome: str) -> mutation.Result:
        return mutation.Result(mutation.Mutant(Path("calc.py"), 1, outcome, b""), outcome, 0.0)

    outcomes = [mutation.KILLED] * 5 + [mutation.TIMEOUT, mutation.SURVIVED, mutation.SURVIVED, mutation.EQUIVALENT]
    score = mutation.Score.of("calc", [result(outcome) for outcome in outcomes])
    assert (score.mutants, score.killed, score.timeout, score.survived, score.equivalent, score.percent) == (9, 5, 1, 2, 1, 75.0)


def test_tests_that_never_import_the_file_are_refused(tmp_path: Path) -> None:
    root = project(tmp_path / "calc", {"calc.py": CALC, "test_other.py": b"def test_nothing() -> None:\n    pass\n"})
    with pytest.raises(mutation.MutationError, match="do not import or apply it"):
        mutation.run_target(target("calc.py", "test_other.py"), root, timeout=60)


def test_in_place_refuses_a_file_with_uncommitted_changes(tmp_path: Path) -> None:
    root = project(tmp_path / "calc", {"calc.py": CALC, "test_calc.py": CALC_TESTS})
    (root / "calc.py").write_bytes(CALC + b"# someone's work in progress\n")
    with pytest.raises(mutation.MutationError, match="uncommitted changes"):
        mutation.InPlace(root / "calc.py", root)


def test_in_place_restores_the_file_when_interrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(tmp_path / "calc", {"calc.py": CALC, "test_calc.py": CALC_TESTS})
    path = root / "calc.py"
    on_disk: list[bytes] = []

    def interrupted(*args: object) -> str:
        on_disk.append(path.read_bytes())
        raise KeyboardInterrupt

    monkeypatch.setattr(mutation, "run_pytest", interrupted)
    with pytest.raises(KeyboardInterrupt):
        mutation.InPlace(path, root).run(b"LIMIT = 11\n", ["test_calc.py"], 60)
    assert on_disk == [b"LIMIT = 11\n"]
    assert path.read_bytes() == CALC
    assert not mutation.journal_path(path).exists()


HANGS_ON_A_MUTANT = b"""import os
import pathlib
import time

import calc


def test_add() -> None:
    if calc.MARK != 1:
        pathlib.Path(os.environ["MUTATION_TEST_FLAG"]).write_text(str(os.getpid()))
        time.sleep(120)
    assert calc.add(2, 3) == 5
"""


def test_ctrl_c_during_a_mutant_run_restores_the_file_and_stops_its_tests(tmp_path: Path) -> None:
    calc = b"MARK = 1\n\n\ndef add(a: int, b: int) -> int:\n    return a + b\n"
    root = project(tmp_path / "calc", {"calc.py": calc, "test_calc.py": HANGS_ON_A_MUTANT})
    flag = tmp_path / "running"
    arguments = ["--root", str(root), "--source", str(root / "calc.py"), "--tests", "test_calc.py", "--in-place"]
    run = subprocess.Popen(  # noqa: S603 - this interpreter running our script
        [sys.executable, "-m", "scripts.mutation", *arguments, "--timeout", "100"],
        cwd=REPO,
        env={**os.environ, "MUTATION_TEST_FLAG": str(flag)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while not flag.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert flag.exists(), run.communicate()[0] if run.poll() is not None else "no mutant run started within 90 s"
    assert (root / "calc.py").read_bytes() == b"MARK = 2\n\n\ndef add(a: int, b: int) -> int:\n    return a + b\n"
    run.send_signal(signal.SIGINT)
    output = run.communicate(timeout=60)[0].decode()
    assert run.returncode == 130, output
    assert (root / "calc.py").read_bytes() == calc
    assert not mutation.journal_path(root / "calc.py").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(int(flag.read_text()), 0)


def test_hand_written_mutants_follow_the_generated_ones(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_bytes(CALC)
    planned = mutation.target_mutants(target("calc.py"), tmp_path, (("return a + b", "return a + b + 1"),))
    [*generated, written] = planned[tmp_path / "calc.py"]
    assert len(generated) == 6
    assert (written.line, written.change) == (9, "`return a + b` -> `return a + b + 1` (hand-written)")
    assert written.text == CALC.replace(b"return a + b", b"return a + b + 1")


def test_a_hand_written_mutant_whose_text_is_gone_is_refused(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_bytes(CALC)
    with pytest.raises(mutation.MutationError, match="exactly once"):
        mutation.target_mutants(target("calc.py"), tmp_path, (("return a * b", "return a"),))


def test_every_known_mutant_matches_its_target() -> None:
    targets = {target.name: target for target in mutation.TARGETS}
    for name, known in mutation.load_known().items():
        planned = mutation.target_mutants(targets[name], REPO, known.hand_written)
        made = {(mutant.line, mutant.change) for mutants in planned.values() for mutant in mutants}
        assert known.equivalent <= made, f"{name}: stale entries in scripts/mutation_known.json: {known.equivalent - made}"
