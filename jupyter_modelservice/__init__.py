"""jupyter_modelservice: train, compare, version and reload scikit-learn models from a notebook.

>>> from jupyter_modelservice import ModelService      # doctest: +SKIP
>>> service = ModelService(models_directory="./models") # doctest: +SKIP

In IPython / Jupyter, ``%load_ext jupyter_modelservice`` adds ``%train``,
``%evaluate``, ``%compare`` and friends. Importing this package is cheap: the
service, scikit-learn and pandas load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import exceptions
from .exceptions import *  # noqa: F403  (every exception and warning, listed in exceptions.__all__)

if TYPE_CHECKING:
    from .service import ModelService

__version__ = "0.1.0"

__all__ = ["ModelService", "__version__", "load_ipython_extension", "unload_ipython_extension"]
__all__ += exceptions.__all__


def __getattr__(name: str) -> Any:
    if name == "ModelService":
        from .service import ModelService

        return ModelService
    raise AttributeError(f"module 'jupyter_modelservice' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics: ``%load_ext jupyter_modelservice``."""
    from .notebook.extension import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove what :func:`load_ipython_extension` registered."""
    from .notebook.extension import unload_ipython_extension as _unload

    _unload(ipython)
