"""Re-execute the tutorial notebooks and store their outputs (the reference nbval compares against).

Usage::

    python notebooks/execute.py                      # every notebooks/*.ipynb
    python notebooks/execute.py notebooks/01_quickstart.ipynb

Each notebook runs in a fresh kernel of this Python, in its own folder (as
Jupyter and nbval run it), and is written back in place. Run it after changing
a notebook or anything its outputs show, then check with::

    pytest --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg notebooks/
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent


def execute(path: Path, timeout: int = 600) -> float:
    """Run ``path`` top to bottom in a new kernel and save it with its outputs; return the seconds taken."""
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",  # jupyter_client starts it with this interpreter (sys.executable)
        record_timing=False,  # no per-cell timestamps: a re-run changes only what the outputs show
        store_widget_state=False,  # widgets show their text fallback in a saved notebook; keeps it small
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    notebook.metadata.pop("widgets", None)  # state of an earlier run that stored it
    nbformat.write(notebook, path)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook of notebooks/")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(HERE.glob("*.ipynb"))
    os.environ.setdefault("MPLBACKEND", "Agg")  # as under `make test`; the notebooks use %matplotlib inline
    for path in paths:
        seconds = execute(path.resolve())
        sys.stdout.write(f"{path}: executed in {seconds:.1f} s\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
