"""Mutation testing, one module group at a time: ``python -m benchmarks.mutation [name ...]``.

`make mutation` runs it. For each group below, mutmut mutates only the group's
files and runs only the group's tests (and, for each mutant, only those of them
that call the mutated function), so a change in one module does not make every
other module's tests run. Each group works in its own folder
``mutants/by-module/<name>/`` (links to the package and the tests, and the
project's pyproject.toml with the group's ``[tool.mutmut]`` table), so its
results stay cached between runs: mutmut tests again only the functions that
changed. Delete that folder to start the group afresh.

``--since REF`` (``make mutation SINCE=main``) tests only the mutants of the functions and
methods that changed since the git revision REF: the habit after a change, in minutes
rather than the hours of a first full run on two cores.

The score of a group is killed / (killed + survived + timeouts + suspicious + no tests);
``mutmut results`` and ``mutmut show NAME`` in the group's folder list and show the survivors.
See benchmarks/MUTATION.md for the scores and the survivors explained.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "mutants" / "by-module"

#: name -> (files mutmut mutates, tests that cover them). Slow, browser, S3 and Dask tests are
#: left out (see PYTEST_ARGS); PostgreSQL tests run when the server is there.
GROUPS: dict[str, tuple[list[str], list[str]]] = {
    "ids": (["jupyter_modelservice/ids.py"],
            ["tests/test_ids.py", "tests/hardening/test_names.py", "tests/test_service_refs.py"]),
    "model_files": (["jupyter_modelservice/model_files.py"],
                    ["tests/test_model_files.py", "tests/test_model_files_pinned.py", "tests/test_service_persistence.py",
                     "tests/hardening/test_files.py", "tests/hardening/test_recorded_format.py",
                     "tests/hardening/test_sidecars.py", "tests/hardening/test_archive.py",
                     "tests/integration/test_probe.py", "tests/integration/test_maintenance_races.py",
                     "tests/integration/test_migrate.py"]),
    "artifacts": (["jupyter_modelservice/artifacts/local.py", "jupyter_modelservice/artifacts/formats.py",
                   "jupyter_modelservice/artifacts/digests.py", "jupyter_modelservice/artifacts/verified_stream.py"],
                  ["tests/artifacts", "tests/test_model_files.py", "tests/hardening/test_files.py",
                   "tests/hardening/test_special_files.py", "tests/hardening/test_recorded_format.py"]),
    "registry": (["jupyter_modelservice/registry/*"],
                 ["tests/registry", "tests/integration/test_list_order.py", "tests/hardening/test_schema.py",
                  "tests/integration/test_where.py", "tests/integration/test_register.py",
                  "tests/artifacts/test_database_store.py", "tests/integration/test_database_store.py",
                  "tests/integration/test_evaluation_records.py", "tests/integration/test_migrate.py",
                  "tests/test_cli_list_stream.py", "tests/integration/test_scale_postgres.py"]),
    "evaluation": (["jupyter_modelservice/evaluation/*"],
                   ["tests/evaluation", "tests/integration/test_evaluation_records.py",
                    "tests/display/test_results.py", "tests/display/test_diff_and_cv_results.py",
                    "tests/notebook/test_diff_magics.py", "tests/widgets/test_comparison_panel.py"]),
    # Not in the default run: its allow-list is built once per process (functools.cache), so a
    # mutant of the builders needs the cache cleared per test session, and ~600 mutants are list
    # entries whose removal only refuses a type (the safe direction).
    "skops_trust": (["jupyter_modelservice/artifacts/skops_trust.py"],
                    ["tests/artifacts/test_skops_trust.py", "tests/hardening/test_files.py"]),
}
DEFAULT = ["ids", "model_files", "artifacts", "registry", "evaluation"]
PYTEST_ARGS = ["-p", "no:cacheprovider", "-m", "not slow and not browser and not s3 and not dask",
               # a warning is attributed to the first frame outside the package: under mutmut that is
               # its trampoline, not the test's line, so this test fails before any mutant is applied
               "--deselect", "tests/test_model_files_pinned.py::"
               "test_changed_predictions_warn_with_both_libraries_from_outside_model_files"]


def mutmut_table(only_mutate: list[str], tests: list[str]) -> str:
    """The ``[tool.mutmut]`` table of one group (JSON strings are TOML strings)."""
    lines = ["[tool.mutmut]",
             'source_paths = ["jupyter_modelservice"]',
             f"only_mutate = {json.dumps(only_mutate)}",
             f"pytest_add_cli_args = {json.dumps(PYTEST_ARGS)}",
             f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
             "use_git_change_detection = false",
             # workers fork from a server that never ran a test: no thread pool (BLAS, joblib) forked mid-lock
             'process_isolation = "forkserver"',
             # a mutant that blocks (on a FIFO, on a lock) is stopped after 10x its tests' time + 5 s
             "timeout_multiplier = 10.0", "timeout_constant = 5.0"]
    return "\n".join(lines) + "\n"


def with_table(pyproject: str, table: str) -> str:
    """``pyproject`` with its ``[tool.mutmut]`` table replaced by ``table`` (appended when absent)."""
    pattern = re.compile(r"^\[tool\.mutmut\]\n(?:(?!\[).*\n?)*", re.MULTILINE)
    if pattern.search(pyproject):
        return pattern.sub(lambda _: table + "\n", pyproject, count=1)
    return pyproject.rstrip("\n") + "\n\n" + table


def prepare(name: str) -> Path:
    """The group's folder: links to the package and tests, and its pyproject.toml."""
    only_mutate, tests = GROUPS[name]
    folder = WORK / name
    folder.mkdir(parents=True, exist_ok=True)
    for part in ("jupyter_modelservice", "tests"):
        link = folder / part
        if not link.is_symlink():
            link.symlink_to(ROOT / part, target_is_directory=True)
    text = with_table((ROOT / "pyproject.toml").read_text(encoding="utf-8"), mutmut_table(only_mutate, tests))
    (folder / "pyproject.toml").write_text(text, encoding="utf-8")
    drop_stale_tests(folder / "mutants" / "tests", ROOT / "tests")
    # mutmut records which tests call which function once, then only for tests it has not seen: a
    # function added or renamed since would be tested by the new tests alone
    (folder / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    return folder


def drop_stale_tests(copied: Path, source: Path) -> None:
    """Remove from mutmut's copy of the tests the files deleted or renamed in ``source`` since (mutmut
    copies the tests but never removes one; a stale test then fails the clean run)."""
    if copied.is_dir():
        for path in copied.rglob("*.py"):
            if not (source / path.relative_to(copied)).exists():
                path.unlink()


def changed_lines(since: str, path: str, root: Path = ROOT) -> set[int]:
    """Lines of ``path`` (as it is now in the work tree at ``root``) added or changed since the git
    revision ``since``; a deletion marks the lines on either side of it."""
    found = subprocess.run(["git", "diff", "--unified=0", since, "--", path], cwd=root, capture_output=True, text=True)
    if found.returncode:
        raise SystemExit(f"--since {since}: git diff failed: {found.stderr.strip()}")
    diff = found.stdout
    lines: set[int] = set()
    for start, count in re.findall(r"^@@ -\S+ \+(\d+)(?:,(\d+))? @@", diff, re.MULTILINE):
        first, n = int(start), int(count or 1)
        lines.update(range(first, first + n) if n else (first, first + 1))
    return lines


def touched_functions(source: str, lines: set[int]) -> list[str]:
    """mutmut's names (``x_func``, ``xǁClassǁmethod``) of the module-level functions and the methods
    of module-level classes whose lines (decorators included) meet ``lines``."""
    def meets(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        return any(first <= line <= (node.end_lineno or node.lineno) for line in lines)

    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    names = []
    for node in ast.parse(source).body:
        if isinstance(node, functions) and meets(node):
            names.append(f"x_{node.name}")
        elif isinstance(node, ast.ClassDef):
            names += [f"xǁ{node.name}ǁ{item.name}" for item in node.body if isinstance(item, functions) and meets(item)]
    return names


def changed_patterns(name: str, since: str) -> list[str]:
    """mutmut name patterns of the group's functions changed since ``since`` (none: nothing to test)."""
    patterns = []
    for spec in GROUPS[name][0]:
        for path in sorted(ROOT.glob(spec)):
            relative = path.relative_to(ROOT).as_posix()
            lines = changed_lines(since, relative)
            if lines:
                module = relative.removesuffix(".py").replace("/", ".")
                patterns += [f"{module}.{function}__mutmut_*"
                             for function in touched_functions(path.read_text(encoding="utf-8"), lines)]
    return patterns


def run(name: str, mutmut: str, patterns: list[str] | None = None) -> dict[str, float]:
    """Run mutmut over the group (only the mutants matching ``patterns`` when given); its counts."""
    folder = prepare(name)
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    started = time.monotonic()
    subprocess.run([mutmut, "run", "--max-children", str(os.cpu_count() or 2), *(patterns or [])],
                   cwd=folder, env=env, check=True)
    seconds = time.monotonic() - started
    if patterns:
        listed = subprocess.run([mutmut, "results", "--all", "true"], cwd=folder, env=env, check=True,
                                capture_output=True, text=True).stdout
        stats: dict[str, float] = dict(count_results(listed, patterns))
    else:
        subprocess.run([mutmut, "export-cicd-stats"], cwd=folder, env=env, check=True, stdout=subprocess.DEVNULL)
        stats = json.loads((folder / "mutants" / "mutmut-cicd-stats.json").read_text())
    stats["seconds"] = seconds
    return stats


def count_results(listed: str, patterns: list[str]) -> Counter[str]:
    """How many mutants of each status ``mutmut results --all true`` lists among those matching ``patterns``
    (statuses named as in ``export-cicd-stats``: killed, survived, timeout, suspicious, no_tests)."""
    counts: Counter[str] = Counter()
    for line in listed.splitlines():
        mutant, _, status = line.strip().rpartition(": ")
        if mutant and any(fnmatch.fnmatchcase(mutant, p) for p in patterns):
            counts[status.replace(" ", "_")] += 1
    return counts


def score_line(name: str, stats: dict[str, float]) -> str:
    counted = sum(stats.get(k, 0) for k in ("killed", "survived", "timeout", "suspicious", "no_tests"))
    score = 100 * stats.get("killed", 0) / counted if counted else float("nan")
    return (f"{name:12} {score:5.1f} % killed  ({stats.get('killed', 0)} killed, {stats.get('survived', 0)} survived, "
            f"{stats.get('no_tests', 0)} without tests, {stats.get('timeout', 0)} timeouts, "
            f"{stats.get('suspicious', 0)} suspicious; {stats['seconds'] / 60:.1f} min)")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mutation", description=__doc__.split("\n")[0])
    parser.add_argument("groups", nargs="*", metavar="group", help=f"of {', '.join(GROUPS)} (default: {' '.join(DEFAULT)})")
    parser.add_argument("--since", metavar="REF", help="only the functions changed since this git revision")
    args = parser.parse_args(argv)
    unknown = [n for n in args.groups if n not in GROUPS]
    if unknown:
        print(f"unknown group(s) {unknown}; choose from {', '.join(GROUPS)}", file=sys.stderr)
        return 2
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    lines = []
    for name in args.groups or DEFAULT:
        patterns = changed_patterns(name, args.since) if args.since else None
        if patterns == []:
            lines.append(f"{name:12} no function changed since {args.since}")
            print(lines[-1], flush=True)
            continue
        print(f"\n=== mutation: {name} ===", flush=True)
        lines.append(score_line(name, run(name, mutmut, patterns)))
        print(lines[-1], flush=True)
    print("\n" + "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
