"""The tutorials show the same numbers on any machine: run them in a differently configured kernel.

nbval (in ``make test``) checks the stored outputs in this machine's default kernel. Here
every tutorial runs once more from another folder with another BLAS kernel
(``OPENBLAS_CORETYPE``), one BLAS/OpenMP thread, another hash seed and another time
zone; after the same sanitizing nbval applies, every output must equal the stored one.
An example whose digits depend on the CPU's floating-point path (an ill-conditioned
fit, an unseeded estimator) fails here instead of on someone else's machine.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbval.plugin import get_sanitize_patterns

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
TUTORIALS = sorted(NOTEBOOKS.glob("*.ipynb"))
#: What nbval compares (and what a reader sees): not the PNGs, not widget views.
COMPARED = ("text/plain", "text/html", "text/markdown", "application/json")
#: A configuration unlike the default one on every machine of this kind.
OTHER_KERNEL = {
    "OPENBLAS_CORETYPE": "Prescott",  # OpenBLAS's most generic kernels: other rounding in dot products
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONHASHSEED": "12345",
    "TZ": "Pacific/Auckland",
    "MPLBACKEND": "Agg",
}

pytestmark = pytest.mark.slow


def sanitizer():
    patterns = get_sanitize_patterns((NOTEBOOKS / "nbval_sanitize.cfg").read_text())
    import re

    compiled = [(re.compile(regex), replace) for regex, replace in patterns]

    def sanitize(text: str) -> str:
        for regex, replace in compiled:
            text = regex.sub(replace, text)
        return text

    return sanitize


def shown_outputs(notebook, sanitize) -> list[list[tuple[str, str]]]:
    """Per code cell, the sanitized text of each output, as nbval compares it."""
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        shown = []
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                shown.append((output.name, sanitize(output.text)))
            elif output.output_type == "error":
                shown.append(("error", f"{output.ename}: {output.evalue}"))
            else:
                for mime in COMPARED:
                    if mime in output.get("data", {}):
                        value = output.data[mime]
                        shown.append((mime, sanitize(value if isinstance(value, str) else str(value))))
        cells.append(shown)
    return cells


def run_elsewhere(path: Path, folder: Path) -> nbformat.NotebookNode:
    """Execute a copy of ``path`` in ``folder`` in a kernel configured by `OTHER_KERNEL`."""
    copy = folder / path.name
    shutil.copy(path, copy)
    notebook = nbformat.read(copy, as_version=4)
    env = {**os.environ, **OTHER_KERNEL}
    env.pop("PYTEST_CURRENT_TEST", None)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    client.execute(env=env)
    return notebook


def first_difference(stored, again) -> str | None:
    for index, (before, after) in enumerate(zip(stored, again, strict=True)):
        if before != after:
            for (mime, old), (_, new) in zip(before, after):
                if old != new:
                    lines = [(a, b) for a, b in zip(old.splitlines(), new.splitlines()) if a != b]
                    return f"code cell {index + 1} ({mime}): stored {lines[:2]!r} vs now"
            return f"code cell {index + 1}: {len(before)} stored outputs, {len(after)} now"
    return None


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_outputs_do_not_depend_on_the_machine(path, tmp_path):
    sanitize = sanitizer()
    stored = shown_outputs(nbformat.read(path, as_version=4), sanitize)
    again = shown_outputs(run_elsewhere(path, tmp_path), sanitize)
    assert first_difference(stored, again) is None, first_difference(stored, again)


def test_stored_outputs_hold_no_path_of_this_machine():
    checkout = str(NOTEBOOKS.parent)
    for path in TUTORIALS:
        text = path.read_text(encoding="utf-8")
        assert checkout not in text, f"{path.name} stores the checkout path {checkout}"
        assert sys.prefix not in text, f"{path.name} stores the environment path {sys.prefix}"
        assert "/tmp/" not in text, f"{path.name} stores a temporary path"
