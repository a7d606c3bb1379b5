"""The examples in the package's docstrings run as written (``doctest``), module by module."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import jupyter_modelservice

_ROOT = Path(jupyter_modelservice.__file__).parent


def _modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages([str(_ROOT)], prefix="jupyter_modelservice."):
        if info.name.endswith("__main__"):
            continue  # running it is the command line
        relative = info.name.split(".", 1)[1].replace(".", "/")
        path = _ROOT / (f"{relative}/__init__.py" if info.ispkg else f"{relative}.py")
        if ">>> " in path.read_text(encoding="utf-8"):
            names.append(info.name)
    return names


MODULES = _modules_with_examples()


def test_the_modules_with_examples_are_found():
    assert {"jupyter_modelservice.columns", "jupyter_modelservice.formatting", "jupyter_modelservice.ids"} <= set(
        MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run_as_written(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (output above)"
