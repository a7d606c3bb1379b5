"""Classification and regression metrics of a fitted estimator on test data."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..exceptions import InvalidInputError
from ..metric_names import CLASSIFICATION_METRICS, REGRESSION_METRICS

__all__ = ["CLASSIFICATION_METRICS", "REGRESSION_METRICS", "TASK_TYPES", "evaluate_estimator",
           "evaluate_predictions"]

TASK_TYPES = ("classification", "regression")


def evaluate_estimator(estimator: Any, X_test: Any, y_test: Any, task_type: str, *,
                       return_predictions: bool = False) -> dict[str, Any]:
    """Every metric of ``task_type`` for ``estimator`` on ``(X_test, y_test)``.

    With ``return_predictions=True`` the result also holds ``"predictions"``:
    ``y_pred``, ``y_score`` (``predict_proba`` output, or None) and ``classes``,
    for charts that need them (ROC curve, residuals).
    """
    if task_type not in TASK_TYPES:
        raise InvalidInputError(f"task_type must be one of {TASK_TYPES}, got {task_type!r}.")
    try:
        y_pred = estimator.predict(X_test)
    except (ValueError, TypeError) as err:
        raise InvalidInputError(f"predict() failed on X_test: {err}") from err
    proba = _probabilities(estimator, X_test) if task_type == "classification" else None
    classes = [_plain(c) for c in getattr(estimator, "classes_", [])]
    result = evaluate_predictions(y_test, y_pred, task_type, y_score=proba, classes=classes)
    if return_predictions:
        result["predictions"] = {"y_pred": y_pred, "y_score": proba, "classes": classes}
    return result


def evaluate_predictions(y_true: Any, y_pred: Any, task_type: str, *, y_score: Any = None,
                         classes: list[Any] | None = None) -> dict[str, Any]:
    """Every metric of ``task_type`` for predictions ``y_pred`` of the target ``y_true``.

    Parameters
    ----------
    y_true, y_pred : array-like
        The target and the predictions.
    task_type : {"classification", "regression"}
    y_score : array-like of shape (n_samples, n_classes), optional
        Classification: ``predict_proba`` output, its columns in the order of
        ``classes`` (needed for ``roc_auc``).
    classes : list, optional
        The classes the model knows (``estimator.classes_``).

    Returns
    -------
    dict
        What :func:`evaluate_estimator` returns.
    """
    if task_type not in TASK_TYPES:
        raise InvalidInputError(f"task_type must be one of {TASK_TYPES}, got {task_type!r}.")
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if task_type == "classification":
        proba = None if y_score is None else np.asarray(y_score)
        return _classification(y_true, y_pred, proba, list(classes or []))
    return _regression(y_true, y_pred)


def _probabilities(estimator: Any, X_test: Any) -> np.ndarray | None:
    """``predict_proba`` output, or None when the estimator cannot give it."""
    if not hasattr(estimator, "predict_proba"):
        return None
    try:
        return np.asarray(estimator.predict_proba(X_test))
    except (ValueError, AttributeError, TypeError):  # e.g. SVC(probability=False)
        return None


def _classification(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None,
                    classes: list[Any]) -> dict[str, Any]:
    from sklearn import metrics

    labels = np.unique(np.concatenate([np.unique(y_true), np.unique(y_pred)]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=metrics._classification.UndefinedMetricWarning)
        precision, recall, f1, _ = metrics.precision_recall_fscore_support(
            y_true, y_pred, average="weighted", zero_division=0
        )
        report = metrics.classification_report(y_true, y_pred, output_dict=True, zero_division=0)
    return {
        "task_type": "classification",
        "n_samples": int(len(y_true)),
        "accuracy": float(metrics.accuracy_score(y_true, y_pred)),
        "precision": float(precision),
        "recall": float(recall),
        "f1_score": float(f1),
        "roc_auc": _roc_auc(y_true, proba, classes),
        "classification_report": _plain(report),
        "confusion_matrix": metrics.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "labels": [_plain(v) for v in labels.tolist()],
    }


def _roc_auc(y_true: np.ndarray, proba: np.ndarray | None, classes: list[Any]) -> float | None:
    """Weighted one-vs-rest ROC AUC, or None without probabilities or with a missing class."""
    if proba is None or len(np.unique(y_true)) < 2 or len(np.unique(y_true)) != len(classes):
        return None
    from sklearn.metrics import roc_auc_score

    try:
        if proba.shape[1] == 2:  # the second column is the probability of classes[1], in whatever order
            return float(roc_auc_score(y_true == classes[1], proba[:, 1]))
        return weighted_ovr_auc(y_true, proba, classes)
    except ValueError:  # labels of y_true that the model never saw
        return None


def weighted_ovr_auc(y_true: np.ndarray, proba: np.ndarray, classes: list[Any]) -> float:
    """Weighted one-vs-rest ROC AUC of ``proba``, its columns in the order of ``classes`` (any order:
    scikit-learn, which wants its labels sorted, gets the columns sorted; a one-dimensional ``proba``
    is the score of the greater label, as for scikit-learn). Raises ValueError where scikit-learn
    does (a label of ``y_true`` not in ``classes``)."""
    from sklearn.metrics import roc_auc_score

    if proba.ndim == 2:
        order = sorted(range(len(classes)), key=classes.__getitem__)
        proba, classes = proba[:, order], [classes[i] for i in order]
    return float(roc_auc_score(y_true, proba, multi_class="ovr", average="weighted", labels=classes))


def _regression(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    from sklearn import metrics

    mse = float(metrics.mean_squared_error(y_true, y_pred))
    return {
        "task_type": "regression",
        "n_samples": int(len(y_true)),
        "mse": mse,
        "rmse": math.sqrt(mse),
        "mae": float(metrics.mean_absolute_error(y_true, y_pred)),
        "r2_score": float(metrics.r2_score(y_true, y_pred)),
    }


def _plain(value: Any) -> Any:
    """numpy scalars and nested containers as JSON-friendly Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
