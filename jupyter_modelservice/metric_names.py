"""Names of the evaluation metrics, their order (main metric first) and which way is better.

No imports: the notebook layer reads these while loading, the core when evaluating.
"""

from __future__ import annotations

__all__ = [
    "CLASSIFICATION_METRICS",
    "LOWER_IS_BETTER",
    "METRIC_LABELS",
    "REGRESSION_METRICS",
    "higher_is_better",
    "metrics_for",
]

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1_score", "roc_auc")
REGRESSION_METRICS = ("r2_score", "rmse", "mae", "mse")

#: Error metrics: the smallest value is the best.
LOWER_IS_BETTER = frozenset({"mse", "rmse", "mae", "log_loss", "max_error", "mape"})

METRIC_LABELS = {
    "accuracy": "accuracy",
    "precision": "precision",
    "recall": "recall",
    "f1_score": "F1",
    "roc_auc": "ROC AUC",
    "r2_score": "R²",
    "rmse": "RMSE",
    "mae": "MAE",
    "mse": "MSE",
}


def higher_is_better(metric: str) -> bool:
    """False for error metrics (``mse``, ``rmse``, ``mae``, ...), True otherwise.

    scikit-learn's ``neg_*`` scorers are negated errors, so higher is better.

    >>> higher_is_better("accuracy"), higher_is_better("rmse"), higher_is_better("neg_mean_squared_error")
    (True, False, True)
    """
    name = metric.lower()
    if name.startswith("neg_"):
        return True
    return name not in LOWER_IS_BETTER and not name.endswith("_error")


def metrics_for(task_type: str | None) -> tuple[str, ...]:
    """The metric names shown for ``"classification"`` or ``"regression"``."""
    return REGRESSION_METRICS if task_type == "regression" else CLASSIFICATION_METRICS
