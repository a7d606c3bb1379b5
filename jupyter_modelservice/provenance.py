"""Where a model came from: a fingerprint of its data, library versions, and the calling code."""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from typing import Any

import numpy as np

__all__ = ["data_fingerprint", "environment", "source"]

_LIBRARIES = ("sklearn", "numpy", "scipy", "pandas", "joblib")


def _feed(digest: Any, data: Any) -> None:
    columns = getattr(data, "columns", None)
    if columns is not None:
        digest.update(repr([str(c) for c in columns]).encode())
    array = np.asarray(data)
    digest.update(f"{array.shape}|{array.dtype.str}|".encode())
    if array.dtype.hasobject:
        import joblib

        digest.update(joblib.hash(array).encode())
    else:
        digest.update(np.ascontiguousarray(array).data.cast("B"))


def data_fingerprint(X: Any, y: Any = None) -> str:
    """``sha256:<hex>`` over the shape, dtype, column names and bytes of X and y."""
    digest = hashlib.sha256()
    _feed(digest, X)
    if y is not None:
        digest.update(b"|y|")
        _feed(digest, y)
    return "sha256:" + digest.hexdigest()


def environment() -> dict[str, str]:
    """Versions of Python and of the libraries a pickled model depends on."""
    versions = {"python": platform.python_version(), "platform": sys.platform}
    for name in _LIBRARIES:
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = str(getattr(module, "__version__", "unknown"))
    return versions


def source() -> dict[str, Any]:
    """The notebook and cell (in IPython) or the script that is running."""
    shell = _ipython_shell()
    if shell is not None:
        info: dict[str, Any] = {"kind": "ipython", "execution_count": _cell_count(shell)}
        notebook = os.environ.get("JPY_SESSION_NAME")
        if notebook:
            info["notebook"] = notebook
        kernel = getattr(shell, "kernel", None)
        try:
            info["cell_id"] = kernel.get_parent()["metadata"].get("cellId")  # type: ignore[union-attr]
        except Exception:  # no kernel (terminal IPython) or no cell metadata
            pass
        return {k: v for k, v in info.items() if v is not None}
    script = sys.argv[0] if sys.argv and sys.argv[0] else None
    return {"kind": "script", "path": os.path.abspath(script)} if script else {"kind": "interactive"}


def _cell_count(shell: Any) -> int | None:
    """The execution count of the cell that is running (its ``In [n]``), or None outside a cell.

    IPython counts the cell before running it: ``shell.execution_count`` is
    already the next cell's number by then. The running cell's own number is
    on the result IPython fills in while it runs.
    """
    running = getattr(getattr(shell, "displayhook", None), "exec_result", None)
    count = getattr(running, "execution_count", None)
    return count if isinstance(count, int) else None


def _ipython_shell() -> Any:
    """The running IPython shell, without importing IPython when it is not loaded."""
    if "IPython" not in sys.modules:
        return None
    try:
        return sys.modules["IPython"].get_ipython()
    except Exception:  # partially imported or shut down
        return None
