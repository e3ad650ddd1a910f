"""Mutation testing without dependencies: one small change (a mutant) to one source file at a time, and the tests that
cover the file run against it. A mutant the tests still pass (a survivor) is a behaviour no test pins.

    python -m scripts.mutation                          # every configured target, then one table
    python -m scripts.mutation state                    # one target
    python -m scripts.mutation state --list             # its mutants, without running anything
    python -m scripts.mutation --source pkg/mod.py --tests tests/test_mod.py     # any file

Where a mutant lives. The working tree is shared, so a Python mutant is never written into it: the test process imports
the mutant from a temporary copy instead (an import hook installed by a `sitecustomize` on PYTHONPATH, so processes the
tests start get it too). SQL migrations are read from disk by the test fixtures, so a SQL mutant is written over the
file, one at a time, and the original bytes go back in a `finally` (Ctrl-C, SIGTERM and SIGHUP included). Such a file
must be committed and unchanged before the run, and a copy of its original waits in the temp folder until it is restored.

Before its mutants, each file's tests run twice: unchanged (they must pass; that run also sets the timeout) and with the
file broken on purpose (they must fail, or they never import or apply it). mutation_known.json beside this file lists, per
target, the mutants no test could tell apart from the original (by line and change, with the reason; they count neither
way in the score) and hand-written mutants (a text and its replacement) for survivors the operators here do not make.
"""

import argparse
import ast
import copy
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KNOWN_FILE = Path(__file__).with_name("mutation_known.json")
MIGRATIONS = "supabase/migrations"
# The fuzz suite's plugins (schemathesis, hypothesis) cost seconds of imports per run and no target's tests use them.
PYTEST_ARGS = ("-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:schemathesis", "-p", "no:hypothesispytest")
GIT = shutil.which("git") or "git"

KILLED, SURVIVED, TIMEOUT, EQUIVALENT, ERROR = "killed", "survived", "timeout", "equivalent", "error"
# pytest's exit codes: 1 a test failed, 2 interrupted (a collection error: the mutant broke the import).
OUTCOME_BY_EXIT_CODE = {0: SURVIVED, 1: KILLED, 2: KILLED}
# A test process gets this long to stop on SIGINT (its fixtures stop Postgres) before the whole group is killed.
STOP_GRACE_SECONDS = 10.0


class MutationError(Exception):
    """A run that cannot be trusted: it stops with this message."""


@dataclass(frozen=True)
class Target:
    """A source file (or, for SQL, the newest migrations defining the named functions) and the tests that cover it."""

    name: str
    tests: tuple[str, ...]
    source: str = ""
    sql_functions: tuple[str, ...] = ()
    pytest_args: tuple[str, ...] = ()

    def sources(self, root: Path) -> dict[Path, frozenset[str]]:
        """Each file to mutate, with the SQL functions whose bodies may change in it (none for Python)."""
        if not self.sql_functions:
            return {root / self.source: frozenset()}
        by_file: dict[Path, set[str]] = {}
        for function in self.sql_functions:
            by_file.setdefault(newest_definition(root / MIGRATIONS, function), set()).add(function)
        return {path: frozenset(names) for path, names in sorted(by_file.items())}


TARGETS = (
    # Pure functions: without tests/conftest.py, each run skips starting a Postgres it never uses (~20 s a mutant).
    Target(
        "state",
        ("tests/unit/test_state_*.py",),
        source="functions/agent_event/agent_event/state.py",
        pytest_args=("--noconftest",),
    ),
    Target(
        "cursor",
        ("tests/functional/test_traces_cursor*.py", "tests/unit/test_traces_*.py"),
        source="functions/traces/traces/cursor.py",
    ),
    Target(
        "auth",
        (
            "tests/unit/test_auth.py",
            "tests/functional/test_odd_tokens.py",
            "tests/functional/test_api_calls.py",
            "tests/functional/test_observability.py",
            "tests/security/test_jwt_attacks.py",
        ),
        source="layers/common/agentmode/auth.py",
    ),
    Target(
        "rate_limits",
        ("tests/functional/test_rate_limits.py", "tests/functional/test_api_calls.py"),
        source="layers/common/agentmode/rate_limits.py",
    ),
    Target(
        "rate_limits_sql",
        ("tests/functional/test_rate_limits.py", "tests/functional/test_api_calls.py"),
        sql_functions=("check_rate_limit", "take_quota", "take_api_call"),
    ),
)


@dataclass(frozen=True)
class Mutant:
    path: Path
    line: int
    change: str
    text: bytes = field(repr=False)


@dataclass(frozen=True)
class Result:
    mutant: Mutant
    outcome: str
    seconds: float


# Python mutants ------------------------------------------------------------------------------------------------------

_COMPARE_FLIPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_BINOP_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
}
_SYMBOLS: dict[type[ast.AST], str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.And: "and",
    ast.Or: "or",
}
_BOOL_SWAPS: dict[type[ast.boolop], type[ast.boolop]] = {ast.And: ast.Or, ast.Or: ast.And}
_CALL_SWAPS = {"min": "max", "max": "min", "any": "all", "all": "any"}
_MAX_SHOWN = 70


def _shown(node: ast.AST) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _with(node: ast.AST, **fields: Any) -> ast.AST:
    clone = copy.copy(node)
    for name, value in fields.items():
        setattr(clone, name, value)
    return clone


def _expression_mutations(node: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """The expressions `node` may become, one change each, with the change in words."""
    where = f"in `{_shown(node)}`"
    if isinstance(node, ast.Compare):
        for index, op in enumerate(node.ops):
            if (flip := _COMPARE_FLIPS.get(type(op))) is not None:
                new = _with(node, ops=[*node.ops[:index], flip(), *node.ops[index + 1 :]])
                yield new, f"`{_SYMBOLS[type(op)]}` -> `{_SYMBOLS[flip]}` {where}"
    elif isinstance(node, ast.BoolOp):
        swap = _BOOL_SWAPS[type(node.op)]
        yield _with(node, op=swap()), f"`{_SYMBOLS[type(node.op)]}` -> `{_SYMBOLS[swap]}` {where}"
    elif isinstance(node, ast.BinOp) and (arithmetic := _BINOP_SWAPS.get(type(node.op))) is not None:
        yield _with(node, op=arithmetic()), f"`{_SYMBOLS[type(node.op)]}` -> `{_SYMBOLS[arithmetic]}` {where}"
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield node.operand, f"drop `not` {where}"
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield ast.Constant(not node.value), f"`{node.value}` -> `{not node.value}`"
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        yield ast.Constant(node.value + 1), f"`{node.value}` -> `{node.value + 1}`"
        yield ast.Constant(node.value - 1), f"`{node.value}` -> `{node.value - 1}`"
    elif isinstance(node, ast.Call):
        yield from _call_mutations(node)


def _call_mutations(node: ast.Call) -> Iterator[tuple[ast.AST, str]]:
    """min <-> max (and any <-> all), min/max reduced to one argument, and each keyword argument dropped."""
    where = f"in `{_shown(node)}`"
    if isinstance(node.func, ast.Name) and node.func.id in _CALL_SWAPS:
        swap = _CALL_SWAPS[node.func.id]
        yield _with(node, func=ast.Name(swap, ast.Load())), f"`{node.func.id}` -> `{swap}` {where}"
        if node.func.id in ("min", "max") and len(node.args) == 2 and not node.keywords:
            for argument in node.args:
                yield argument, f"`{_shown(node)}` -> `{_shown(argument)}`"
    for index, keyword in enumerate(node.keywords):
        if keyword.arg is not None:
            yield _with(node, keywords=[*node.keywords[:index], *node.keywords[index + 1 :]]), f"drop `{_shown(keyword)}` {where}"


def _statement_mutations(node: ast.AST) -> Iterator[tuple[str, str]]:
    """(replacement source, change) for a statement whose effect is dropped."""
    if isinstance(node, ast.Return) and node.value is not None:
        returns_constant = isinstance(node.value, ast.Constant) and (
            node.value.value is None or isinstance(node.value.value, bool)
        )
        if not returns_constant:
            yield "return None", f"`{_shown(node)}` -> `return None`"
    elif isinstance(node, ast.Raise) or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call | ast.Await)):
        yield "pass", f"remove `{_shown(node)}`"


def _not_mutated(tree: ast.AST) -> set[int]:
    """Signature annotations (types only) and f-strings (whose inner positions Python 3.11 misreports)."""
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args
            every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
            roots += [argument.annotation for argument in every if argument is not None and argument.annotation is not None]
            roots += [node.returns] if node.returns is not None else []
        elif isinstance(node, ast.JoinedStr):
            roots.append(node)
    return {id(inner) for root in roots for inner in ast.walk(root)}


def _line_offsets(source: bytes) -> list[int]:
    offsets = [0]
    for line in source.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    return offsets


def python_mutants(path: Path) -> list[Mutant]:
    """Every single-change mutant of a Python file that still compiles, in source order."""
    source = path.read_bytes()
    tree = ast.parse(source, filename=str(path))
    offsets = _line_offsets(source)
    skipped = _not_mutated(tree)
    mutants: list[Mutant] = []
    for node in ast.walk(tree):
        if id(node) in skipped or not isinstance(node, ast.expr | ast.stmt) or node.end_lineno is None:
            continue
        start = offsets[node.lineno - 1] + node.col_offset
        end = offsets[node.end_lineno - 1] + (node.end_col_offset or 0)
        edits = [(_replacement(new), change) for new, change in _expression_mutations(node)]
        edits += list(_statement_mutations(node))
        for replacement, change in edits:
            text = source[:start] + replacement.encode() + source[end:]
            try:
                compile(text, str(path), "exec", dont_inherit=True)
            except SyntaxError:
                continue
            mutants.append(Mutant(path, node.lineno, change, text))
    return sorted(mutants, key=lambda mutant: mutant.line)


def _replacement(node: ast.AST) -> str:
    """Parenthesised unless atomic, so it binds the same wherever the original stood."""
    text = ast.unparse(node)
    atomic = isinstance(node, ast.Name | ast.Call) or (isinstance(node, ast.Constant) and not text.startswith("-"))
    return text if atomic else f"({text})"


# SQL mutants ---------------------------------------------------------------------------------------------------------

_SQL_FUNCTION = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+(?:\w+\.)?(\w+)\s*\(", re.IGNORECASE)
_DOLLAR_QUOTE = re.compile(r"\$(\w*)\$")
_SQL_STRING = re.compile(r"'(?:[^']|'')*'")
_SQL_COMPARISONS = {"<=": "<", ">=": ">", "<>": "=", "!=": "=", "=": "<>", "<": "<=", ">": ">="}
# (pattern, what a match becomes); one mutant per match. `=` after SET col or ERRCODE assigns, it does not compare.
_SQL_RULES: tuple[tuple[re.Pattern[str], Callable[[str], str]], ...] = (
    (re.compile(r"<=|>=|<>|!=|(?<![:<>!=])=(?![>=])|<(?![=>])|(?<![=\-<])>(?!=)"), lambda op: _SQL_COMPARISONS[op]),
    (re.compile(r"\b(?:AND|OR)\b", re.IGNORECASE), lambda word: _same_case(word, "or" if word.lower() == "and" else "and")),
    (re.compile(r"\bNOT\s+", re.IGNORECASE), lambda _: ""),
    (re.compile(r"\b(?:true|false)\b", re.IGNORECASE), lambda word: _same_case(word, str(word.lower() != "true").lower())),
    (
        re.compile(r"\b(?:greatest|least)\b", re.IGNORECASE),
        lambda word: _same_case(word, "least" if word.lower() == "greatest" else "greatest"),
    ),
    (re.compile(r"(?<![\w$.])\d+(?![\w.])"), lambda number: str(int(number) + 1)),
    (re.compile(r"(?<![\w$.])\d+(?![\w.])"), lambda number: str(int(number) - 1)),
    (re.compile(r"(?<=\s)[+-](?=\s)"), lambda sign: "-" if sign == "+" else "+"),
)
_ASSIGNMENT_BEFORE = re.compile(r"(?:\bSET\s+[\w.]+|\bERRCODE)\s*$", re.IGNORECASE)
_REMOVABLE_STATEMENT = re.compile(r"^\s*(RAISE|PERFORM|DELETE|INSERT|UPDATE)\b", re.IGNORECASE)


def _same_case(original: str, word: str) -> str:
    return word.upper() if original.isupper() else word


def newest_definition(migrations: Path, function: str) -> Path:
    """The last migration (in apply order) that creates `function`: the definition the database ends up with."""
    defining = [path for path in sorted(migrations.glob("*.sql")) if function in _defined_functions(path.read_text())]
    if not defining:
        raise MutationError(f"no migration in {migrations} defines {function}")
    return defining[-1]


def _defined_functions(sql: str) -> set[str]:
    return {match.group(1) for line in sql.splitlines() if (match := _SQL_FUNCTION.match(line))}


def _function_bodies(lines: list[str], functions: frozenset[str]) -> list[range]:
    """Line ranges (0-based) strictly inside the dollar quotes of each named function."""
    bodies: list[range] = []
    index = 0
    while index < len(lines):
        match = _SQL_FUNCTION.match(lines[index])
        opening = next((at for at in range(index, len(lines)) if _DOLLAR_QUOTE.search(lines[at])), None) if match else None
        if match is None or opening is None:
            index += 1
            continue
        quote = f"${_DOLLAR_QUOTE.findall(lines[opening])[0]}$"
        if lines[opening].count(quote) > 1:  # a one-line body: nothing to mutate line by line
            index = opening + 1
            continue
        closing = next((at for at in range(opening + 1, len(lines)) if quote in lines[at]), len(lines))
        if match.group(1) in functions:
            bodies.append(range(opening + 1, closing))
        index = closing + 1
    return bodies


def _code_spans(line: str) -> Iterator[tuple[int, int]]:
    """The parts of a line outside string literals and before a `--` comment."""
    end = len(line)
    position = 0
    for string in _SQL_STRING.finditer(line):
        comment = line.find("--", position, string.start())
        if comment != -1:
            end = comment
            break
        yield position, string.start()
        position = string.end()
    else:
        comment = line.find("--", position)
        end = comment if comment != -1 else end
    if position < end:
        yield position, end


def sql_mutants(path: Path, functions: frozenset[str]) -> list[Mutant]:
    """Single-change mutants of the named functions' bodies: operators, AND/OR, NOT, booleans, numbers, dropped statements."""
    lines = path.read_text().splitlines(keepends=True)
    mutants: list[Mutant] = []

    def mutant(at: int, new_lines: list[str], change: str) -> None:
        text = "".join([*lines[:at], *new_lines, *lines[at + len(new_lines) :]])
        mutants.append(Mutant(path, at + 1, change, text.encode()))

    for body in _function_bodies(lines, functions):
        for at in body:
            line = lines[at]
            for start, end in _code_spans(line):
                for pattern, becomes in _SQL_RULES:
                    for match in pattern.finditer(line, start, end):
                        if match.group() == "=" and _ASSIGNMENT_BEFORE.search(line[: match.start()]):
                            continue
                        new = line[: match.start()] + becomes(match.group()) + line[match.end() :]
                        mutant(at, [new], f"`{line.strip()}` -> `{new.strip()}`")
            if _REMOVABLE_STATEMENT.match(line):
                last = next((end for end in range(at, body.stop) if lines[end].split("--")[0].rstrip().endswith(";")), None)
                if last is not None:
                    indent = line[: len(line) - len(line.lstrip())]
                    mutant(at, [f"{indent}NULL;\n", *["\n"] * (last - at)], f"remove `{line.strip()}`")
    return mutants


def mutants_of(path: Path, functions: frozenset[str]) -> list[Mutant]:
    return sql_mutants(path, functions) if path.suffix == ".sql" else python_mutants(path)


def broken(path: Path, source: bytes) -> bytes:
    """The file with a failure appended: the tests must notice it, or they do not cover the file at all."""
    if path.suffix == ".sql":
        return source + b"\nDO $$ BEGIN RAISE EXCEPTION 'mutation canary'; END $$;\n"
    return source + b"\nraise ImportError('mutation canary: the tests must fail when this module is broken')\n"


# Running the tests ---------------------------------------------------------------------------------------------------


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """The test process and what it started (Postgres, a local server): asked to stop, then killed, by group id."""
    for signum, grace in ((signal.SIGINT, STOP_GRACE_SECONDS), (signal.SIGKILL, STOP_GRACE_SECONDS)):
        process.poll()
        if not _group_alive(process.pid):
            return
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            process.poll()
            if not _group_alive(process.pid):
                return
            time.sleep(0.05)


def run_pytest(root: Path, tests: list[str], env: dict[str, str], timeout: float) -> str:
    """killed, survived, timeout or error; the test process never outlives the call."""
    process = subprocess.Popen(  # noqa: S603 - this interpreter running pytest on our own test files
        [sys.executable, *PYTEST_ARGS, *tests],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return TIMEOUT
    finally:
        _stop_group(process)
    return OUTCOME_BY_EXIT_CODE.get(code, ERROR)


_IMPORT_HOOK = '''"""Installed by scripts/mutation.py: imports MUTATION_TARGET's module from MUTATION_SOURCE instead."""
import importlib.abc
import importlib.machinery
import os
import sys

_TARGET = os.path.realpath(os.environ["MUTATION_TARGET"])
_SOURCE = os.environ["MUTATION_SOURCE"]
_STEM = os.path.splitext(os.path.basename(_TARGET))[0]


class _MutantLoader(importlib.machinery.SourceFileLoader):
    def get_data(self, path):
        if os.path.realpath(path) == _TARGET:
            with open(_SOURCE, "rb") as source:
                return source.read()
        return super().get_data(path)

    def path_stats(self, path):
        raise OSError("a mutant is compiled from source, never from the bytecode cache")


class _MutantFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname.rpartition(".")[2] != _STEM and _STEM != "__init__":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None or os.path.realpath(spec.origin) != _TARGET:
            return None
        spec.loader = _MutantLoader(fullname, spec.origin)
        return spec


sys.meta_path.insert(0, _MutantFinder())
'''


class ShadowCopy:
    """Runs the tests with a Python file's module imported from a temporary copy; the file itself is never written."""

    def __init__(self, path: Path, root: Path) -> None:
        self.path, self.root = path, root
        self.folder = Path(tempfile.mkdtemp(prefix="mutation-"))
        (self.folder / "sitecustomize.py").write_text(_IMPORT_HOOK)

    def run(self, text: bytes, tests: list[str], timeout: float) -> str:
        source = self.folder / "mutant.py.txt"
        source.write_bytes(text)
        python_path = os.pathsep.join(filter(None, [str(self.folder), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": python_path, "MUTATION_TARGET": str(self.path), "MUTATION_SOURCE": str(source)}
        return run_pytest(self.root, tests, env, timeout)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def journal_path(path: Path) -> Path:
    """Where the original bytes wait while `path` holds a mutant (and stay if the run was killed outright)."""
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"mutation-original-{digest}{path.suffix}"


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GIT, *args], cwd=root, capture_output=True, text=True, check=False)  # noqa: S603 - fixed git commands


@contextmanager
def _signals_held() -> Iterator[None]:
    """A Ctrl-C (or SIGTERM) arriving while a file is being written waits until the write is done."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class InPlace:
    """Runs the tests with each mutant written over the file itself; the original bytes always go back."""

    def __init__(self, path: Path, root: Path) -> None:
        self.path, self.root, self.journal = path, root, journal_path(path)
        if self.journal.exists():
            raise MutationError(
                f"{path} may still hold a mutant from a run that was killed: its original is {self.journal}; "
                "compare, restore it by hand, then delete that copy"
            )
        if _git(root, "ls-files", "--error-unmatch", "--", str(path)).returncode != 0:
            raise MutationError(f"{path} is not committed: a mutant is only written over a committed file")
        if _git(root, "status", "--porcelain", "--", str(path)).stdout.strip():
            raise MutationError(f"{path} has uncommitted changes: commit them (or wait for their owner) first")
        self.original = path.read_bytes()

    def run(self, text: bytes, tests: list[str], timeout: float) -> str:
        with self.written(text):
            return run_pytest(self.root, tests, dict(os.environ), timeout)

    @contextmanager
    def written(self, text: bytes) -> Iterator[None]:
        if self.path.read_bytes() != self.original:
            raise MutationError(f"{self.path} changed during the run: someone else is editing it")
        try:
            with _signals_held():
                self.journal.write_bytes(self.original)
                self.path.write_bytes(text)
            yield
        finally:
            with _signals_held():
                self.path.write_bytes(self.original)
                if self.path.read_bytes() == self.original:
                    self.journal.unlink(missing_ok=True)

    def close(self) -> None:
        """Nothing to undo: each run restores the file before it returns."""


# A target's run ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Known:
    """What people add to a target's generated mutants: those no test could tell apart, and survivors found by hand."""

    equivalent: frozenset[tuple[int, str]] = frozenset()
    hand_written: tuple[tuple[str, str], ...] = ()


def load_known(path: Path = KNOWN_FILE) -> dict[str, Known]:
    entries: dict[str, dict[str, list[dict[str, Any]]]] = json.loads(path.read_text()) if path.exists() else {}
    return {
        target: Known(
            frozenset((entry["line"], entry["change"]) for entry in listed.get("equivalent", [])),
            tuple((entry["old"], entry["new"]) for entry in listed.get("hand_written", [])),
        )
        for target, listed in entries.items()
    }


def target_mutants(target: Target, root: Path, hand_written: tuple[tuple[str, str], ...] = ()) -> dict[Path, list[Mutant]]:
    """Each file's generated mutants, then the hand-written ones: `old` (found exactly once in the files) becomes `new`."""
    planned = {path: mutants_of(path, functions) for path, functions in target.sources(root).items()}
    for old, new in hand_written:
        holders = [path for path in planned if old in path.read_text()]
        source = holders[0].read_text() if len(holders) == 1 else ""
        if source.count(old) != 1:
            raise MutationError(f"{target.name}: a hand-written mutant's text must occur exactly once in its files: {old!r}")
        line = source.count("\n", 0, source.index(old)) + 1
        text = source.replace(old, new).encode()
        planned[holders[0]].append(Mutant(holders[0], line, f"`{old}` -> `{new}` (hand-written)", text))
    return planned


def expand_tests(root: Path, patterns: tuple[str, ...]) -> list[str]:
    """Test files matching the patterns (node ids such as `file.py::test` pass through); refuses an empty selection."""
    found: list[str] = []
    for pattern in patterns:
        if "::" in pattern:
            found.append(pattern)
        else:
            found += [str(path.relative_to(root)) for path in sorted(root.glob(pattern)) if path.is_file()]
    if not found:
        raise MutationError(f"no tests match {', '.join(patterns)}")
    return list(dict.fromkeys(found))


def run_target(
    target: Target,
    root: Path = ROOT,
    *,
    known: Known = Known(),
    in_place: bool = False,
    timeout: float | None = None,
    report: Callable[[Result], None] = lambda result: None,
) -> list[Result]:
    """Each mutant of the target's files against its tests, one at a time."""
    tests = [*target.pytest_args, *expand_tests(root, target.tests)]
    results: list[Result] = []
    for path, mutants in target_mutants(target, root, known.hand_written).items():
        runner = InPlace(path, root) if in_place or path.suffix != ".py" else ShadowCopy(path, root)
        try:
            started = time.monotonic()
            if runner.run(path.read_bytes(), tests, timeout or 3600) != SURVIVED:
                raise MutationError(f"{target.name}: the tests fail on the unchanged {path.name}; fix them first")
            limit = timeout or max(20.0, 3 * (time.monotonic() - started) + 10)
            if runner.run(broken(path, path.read_bytes()), tests, limit) != KILLED:
                raise MutationError(f"{target.name}: the tests pass with {path.name} broken: they do not import or apply it")
            for mutant in mutants:
                started = time.monotonic()
                if (mutant.line, mutant.change) in known.equivalent:
                    outcome = EQUIVALENT
                else:
                    outcome = runner.run(mutant.text, tests, limit)
                results.append(Result(mutant, outcome, time.monotonic() - started))
                report(results[-1])
        finally:
            runner.close()
    return results


@dataclass(frozen=True)
class Score:
    target: str
    mutants: int
    killed: int
    timeout: int
    survived: int
    equivalent: int
    errors: int

    @classmethod
    def of(cls, target: str, results: list[Result]) -> "Score":
        count = {
            outcome: sum(result.outcome == outcome for result in results)
            for outcome in (KILLED, SURVIVED, TIMEOUT, EQUIVALENT, ERROR)
        }
        return cls(target, len(results), count[KILLED], count[TIMEOUT], count[SURVIVED], count[EQUIVALENT], count[ERROR])

    @property
    def percent(self) -> float:
        """Killed (timeouts included) out of the mutants a test could tell apart."""
        counted = self.mutants - self.equivalent
        return 100.0 * (self.killed + self.timeout) / counted if counted else 100.0


# Output --------------------------------------------------------------------------------------------------------------


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _location(mutant: Mutant, root: Path) -> str:
    path = mutant.path.relative_to(root) if mutant.path.is_relative_to(root) else mutant.path
    return f"{path}:{mutant.line}"


def result_line(result: Result, root: Path) -> str:
    return f"  {result.outcome.upper():<10} {_location(result.mutant, root):<50} {result.mutant.change}  ({result.seconds:.1f} s)"


def score_table(scores: list[Score]) -> str:
    columns = ("target", "mutants", "killed", "timeout", "survived", "equivalent", "errors")
    rows = [[*columns, "score"]] + [
        [*(str(getattr(score, name)) for name in columns), f"{score.percent:.1f}%"] for score in scores
    ]
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if index == 0 else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM and SIGHUP unwind like Ctrl-C, so every `finally` (the file restore) runs."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def only_run(root: Path) -> Iterator[None]:
    """One mutation run per working tree at a time: two would mutate (and test) on top of each other."""
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    with (Path(tempfile.gettempdir()) / f"mutation-{digest}.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MutationError(f"another mutation run is using {root}") from None
        yield


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", help=f"configured targets (default: all): {', '.join(t.name for t in TARGETS)}")
    parser.add_argument("--source", type=Path, help="mutate this file instead of a configured target")
    parser.add_argument("--tests", nargs="+", default=[], help="with --source: the pytest files or node ids that cover it")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository the tests run in (default: this one)")
    parser.add_argument("--list", action="store_true", help="print the mutants without running any test")
    parser.add_argument("--in-place", action="store_true", help="write Python mutants over the file too (SQL always is)")
    parser.add_argument("--timeout", type=float, help="seconds per test run (default: 3x the unmutated run + 10 s)")
    return parser.parse_args(argv)


def _chosen(args: argparse.Namespace) -> list[Target]:
    if args.source is not None:
        if not args.tests:
            raise MutationError("--source needs --tests")
        source = args.source.resolve()
        return [Target(source.stem, tuple(args.tests), source=str(source.relative_to(args.root.resolve())))]
    known = {target.name: target for target in TARGETS}
    unknown = [name for name in args.targets if name not in known]
    if unknown:
        raise MutationError(f"unknown target {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[name] for name in args.targets] or list(TARGETS)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    root = args.root.resolve()
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    try:
        targets = _chosen(args)
        known = load_known()
        if args.list:
            for target in targets:
                for mutants in target_mutants(target, root, known.get(target.name, Known()).hand_written).values():
                    for mutant in mutants:
                        say(f"{target.name:<16} {_location(mutant, root):<50} {mutant.change}")
            return 0
        scores: list[Score] = []
        with only_run(root):
            for target in targets:
                say(f"{target.name}: {', '.join(target.tests)}")
                results = run_target(
                    target,
                    root,
                    known=known.get(target.name, Known()),
                    in_place=args.in_place,
                    timeout=args.timeout,
                    report=lambda result: say(result_line(result, root)),
                )
                scores.append(Score.of(target.name, results))
                say(f"  score {scores[-1].percent:.1f}%\n")
        say(score_table(scores))
    except MutationError as error:
        say(f"mutation: {error}")
        return 2
    except KeyboardInterrupt:
        say("mutation: interrupted; every file is back as it was")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
