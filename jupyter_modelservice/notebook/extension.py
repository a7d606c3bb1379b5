"""``%load_ext jupyter_modelservice``: register the magics, and remove them again.

Loading imports IPython's magic machinery and this package's display classes
only; the service, scikit-learn, pandas and matplotlib wait for the first magic.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_ipython_extension", "unload_ipython_extension"]

_REGISTRY_KEY = "ModelServiceMagics"


def load_ipython_extension(ipython: Any) -> None:
    """Register :class:`~jupyter_modelservice.notebook.magics.ModelServiceMagics` on ``ipython``."""
    from .magics import ModelServiceMagics

    if _REGISTRY_KEY in ipython.magics_manager.registry:
        return
    magics = ModelServiceMagics(ipython)
    ipython.register_magics(magics)
    ipython.events.register("post_run_cell", magics.forget_echoes)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics, close the registry connection and forget the service."""
    magics = ipython.magics_manager.registry.pop(_REGISTRY_KEY, None)
    if magics is None:
        return
    for kind, names in magics.magics.items():
        table = ipython.magics_manager.magics[kind]
        for name in names:
            if getattr(table.get(name), "__self__", None) is magics:
                del table[name]
    try:
        ipython.events.unregister("post_run_cell", magics.forget_echoes)
    except ValueError:  # already unregistered
        pass
    magics.forget_echoes()
    magics.close()
