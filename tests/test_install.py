"""What ``pip install jupyter_modelservice`` brings: everything ``%load_ext`` needs for its charts and panels.

The requirements are read from the ``[project]`` table of pyproject.toml, which the build backend
copies as they are into the package's ``Requires-Dist`` metadata (the ones pip installs).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def requirements():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


@pytest.mark.parametrize("package", ["ipython", "ipywidgets", "matplotlib"])
def test_the_notebook_libraries_come_with_a_plain_install(requirements, package):
    assert any(re.match(rf"{package}\b", r, flags=re.I) for r in requirements), requirements


def test_the_notebook_extra_is_still_accepted():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "notebook" in extras  # `pip install jupyter_modelservice[notebook]` in old instructions still works

