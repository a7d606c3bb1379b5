"""Rich results of the notebook layer: data in, text / HTML / PNG out.

Each result object keeps the service's data (``.data``, and ``.frame`` where a
DataFrame fits) and renders through ``_repr_mimebundle_``: ``text/plain`` for
terminals, ``text/html`` with scoped CSS for notebooks and ``image/png`` when
there is a chart. Charts are drawn on :class:`matplotlib.figure.Figure`; nothing
here imports IPython, and matplotlib / pandas load only when a chart or a frame
is asked for.
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
