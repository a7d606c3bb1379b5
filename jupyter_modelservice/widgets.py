"""Widget panels for browsing and comparing the model registry in a notebook.

>>> from jupyter_modelservice.widgets import RegistryBrowser, ComparisonPanel   # doctest: +SKIP
>>> RegistryBrowser(service)        # search, filter, page, inspect, act  # doctest: +SKIP
>>> ComparisonPanel(service, X_test, y_test)  # pick versions and a metric  # doctest: +SKIP

Both are composites of standard ipywidgets (no custom JavaScript) and need the
``notebook`` extra (``pip install jupyter_modelservice[notebook]``). This module
imports ipywidgets; ``import jupyter_modelservice`` does not import it.
"""

from __future__ import annotations

from .notebook.browser import RegistryBrowser
from .notebook.comparison_panel import ComparisonPanel

__all__ = ["ComparisonPanel", "RegistryBrowser"]
