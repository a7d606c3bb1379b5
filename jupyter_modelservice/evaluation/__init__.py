"""Metrics for one model and side-by-side comparison of several."""

from .compare import add_significance, check_same_task, comparison_frame
from .metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS, evaluate_estimator, evaluate_predictions

__all__ = ["add_significance", "check_same_task", "CLASSIFICATION_METRICS", "REGRESSION_METRICS", "comparison_frame", "evaluate_estimator",
           "evaluate_predictions"]
