"""Rich results of the notebook layer: data in, text / HTML / PNG out.

Each result object keeps the service's data (``.data``), gives what it shows as a
DataFrame (``frame()``) and renders through ``_repr_mimebundle_``: ``text/plain``
for terminals, ``text/html`` with scoped CSS for notebooks and ``image/png`` when
there is a chart. Charts follow scikit-learn's Display contract: ``plot(ax=None,
**kwargs)`` draws on the given axes or on a new :class:`matplotlib.figure.Figure`
(never through pyplot), stores ``ax_`` and ``figure_`` and returns the result;
the evaluation charts are drawn by scikit-learn's own Displays. Nothing here
imports IPython, and matplotlib / pandas load only when a chart or a frame is
asked for.
"""

from __future__ import annotations

from .base import RichResult
from .comparison import ComparisonResult
from .cv_comparison import CVComparisonResult
from .diff import DiffResult
from .evaluation import EvaluationResult
from .importance import ImportanceResult
from .registry import RegistryTable, ServiceConfig
from .reproduction import ReproductionResult
from .training import CVResult, TrainResult

__all__ = [
    "CVComparisonResult",
    "CVResult",
    "ComparisonResult",
    "DiffResult",
    "EvaluationResult",
    "ImportanceResult",
    "RegistryTable",
    "ReproductionResult",
    "RichResult",
    "ServiceConfig",
    "TrainResult",
]
