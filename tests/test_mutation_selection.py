"""`make mutation SINCE=REF`: which mutants a change selects (benchmarks/mutation.py)."""

from __future__ import annotations

import subprocess
import textwrap

import pytest

from benchmarks.mutation import changed_lines, count_results, drop_stale_tests, touched_functions

SOURCE = textwrap.dedent('''\
    import functools


    def first():
        return 1


    @functools.cache
    def cached():
        def inner():
            return 2
        return inner()


    class Store:
        size = 3

        def read(self):
            return 4

        @property
        def name(self):
            return "s"
''')


def test_changed_lines_are_the_new_and_changed_ones_and_both_sides_of_a_deletion(tmp_path):
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    git("init", "-q")
    (tmp_path / "m.py").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    git("add", "m.py")
    git("commit", "-qm", "first")
    lines = [f"line {i}\n" for i in range(1, 11)]
    lines[1] = "changed 2\n"
    del lines[5]  # line 6 goes: now lines 5 and 6 (old 7) surround the gap
    lines.append("added 11\n")
    (tmp_path / "m.py").write_text("".join(lines))
    assert changed_lines("HEAD", "m.py", root=tmp_path) == {2, 5, 6, 10}
    assert changed_lines("HEAD", "other.py", root=tmp_path) == set()
    with pytest.raises(SystemExit, match="--since no-such-ref: git diff failed: fatal: "):
        changed_lines("no-such-ref", "m.py", root=tmp_path)


def test_touched_functions_are_named_as_mutmut_names_them():
    assert touched_functions(SOURCE, {5}) == ["x_first"]
    assert touched_functions(SOURCE, {8}) == ["x_cached"]  # its decorator
    assert touched_functions(SOURCE, {11}) == ["x_cached"]  # a nested function belongs to its enclosing one
    assert touched_functions(SOURCE, {19, 23}) == ["xǁStoreǁread", "xǁStoreǁname"]
    assert touched_functions(SOURCE, {1, 2, 16, 17}) == []  # imports, blank lines, a class attribute
    assert touched_functions(SOURCE, set()) == []


def test_count_results_counts_the_statuses_of_the_selected_mutants():
    listed = textwrap.dedent('''\
        m.x_first__mutmut_1: killed
        m.x_first__mutmut_2: survived
        m.x_first__mutmut_3: no tests
        m.xǁStoreǁread__mutmut_1: timeout
        m.x_cached__mutmut_1: survived
        m.x_cached__mutmut_2: not checked
    ''').replace("m.", "    m.")
    assert count_results(listed, ["m.x_first__mutmut_*", "m.xǁStoreǁread__mutmut_*"]) == {
        "killed": 1, "survived": 1, "no_tests": 1, "timeout": 1}
    assert count_results(listed, ["m.x_cached__mutmut_*"]) == {"survived": 1, "not_checked": 1}


def test_a_test_renamed_since_the_last_run_leaves_mutmuts_copy(tmp_path):
    source, copied = tmp_path / "tests", tmp_path / "mutants" / "tests"
    for folder in (source / "registry", copied / "registry"):
        folder.mkdir(parents=True)
    (source / "registry" / "test_new_name.py").write_text("")
    for name in ("test_new_name.py", "test_old_name.py", "conftest.json"):
        (copied / "registry" / name).write_text("")
    drop_stale_tests(copied, source)
    assert sorted(p.name for p in (copied / "registry").iterdir()) == ["conftest.json", "test_new_name.py"]
    drop_stale_tests(tmp_path / "never_run", source)  # no copy yet: nothing to do
