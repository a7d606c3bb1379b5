"""Widget panels for browsing and comparing the model registry in a notebook.

>>> from jupyter_modelservice.widgets import RegistryBrowser, ComparisonPanel   # doctest: +SKIP
>>> RegistryBrowser()               # search, filter, page, inspect, act  # doctest: +SKIP
>>> ComparisonPanel(X_test=X_test, y_test=y_test)  # pick versions and a metric  # doctest: +SKIP

Without a service they use the registry of the magics (``%load_ext
jupyter_modelservice``, ``%ms_config``), else ``./models``; pass one to use
another. Both are composites of standard ipywidgets (no custom JavaScript),
installed with the package. This module imports ipywidgets;
``import jupyter_modelservice`` does not import it.
"""

from __future__ import annotations

from .notebook.browser import RegistryBrowser
from .notebook.comparison_panel import ComparisonPanel

__all__ = ["ComparisonPanel", "RegistryBrowser"]
