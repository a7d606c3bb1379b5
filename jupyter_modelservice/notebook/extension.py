"""``%load_ext jupyter_modelservice``: register the magics, and remove them again.

Loading imports IPython's magic machinery and this package's display classes
only; the service, scikit-learn, pandas and matplotlib wait for the first magic.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_ipython_extension", "unload_ipython_extension"]

_REGISTRY_KEY = "ModelServiceMagics"
#: Magics classes registered beside the main one, sharing its service (by registry key).
_COMPANIONS = ("AnalysisMagics", "DiffMagics", "TrainingMagics")


def load_ipython_extension(ipython: Any) -> None:
    """Register :class:`~jupyter_modelservice.notebook.magics.ModelServiceMagics` on ``ipython``, and
    the magics that share its service (`_COMPANIONS`)."""
    from .analysis_magics import AnalysisMagics
    from .diff_magics import DiffMagics
    from .magics import ModelServiceMagics
    from .training_magics import TrainingMagics
    from .usage import plain_help

    if _REGISTRY_KEY in ipython.magics_manager.registry:
        return
    magics = ModelServiceMagics(ipython)
    ipython.register_magics(magics)
    for companion in (AnalysisMagics, DiffMagics, TrainingMagics):
        ipython.register_magics(plain_help(companion)(ipython, magics))  # `%diff?` as `%train?`: no "::"


def _unregister(ipython: Any, key: str) -> Any:
    """Remove the magics registered under ``key``; return their object, or None."""
    magics = ipython.magics_manager.registry.pop(key, None)
    if magics is None:
        return None
    for kind, names in magics.magics.items():
        table = ipython.magics_manager.magics[kind]
        for name in names:
            if getattr(table.get(name), "__self__", None) is magics:
                del table[name]
    return magics


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics, close the registry connection and forget the service."""
    magics = _unregister(ipython, _REGISTRY_KEY)
    for key in _COMPANIONS:
        _unregister(ipython, key)
    if magics is not None:
        magics.close()
