"""Reproduce a version: the same data, the same estimator, the same split → the same predictions?

`reproduce` is what `ModelService.reproduce` and ``%reproduce`` run. It checks
the data against the fingerprint recorded at training (and says how it
differs: rows, columns, values), refits an unfitted clone of the stored model
(its class and every parameter, nested ones included) on the recorded
training split, and compares the refit's predictions on all of ``X`` with the
stored model's: ``identical`` (bit for bit, probabilities included),
``within_tolerance`` (labels equal, numbers within ``atol``) or ``different``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import provenance, training
from .exceptions import InvalidInputError

__all__ = ["OUTCOMES", "compare_predictions", "data_differences", "refit"]

#: What `reproduce` can find, best first.
OUTCOMES = ("identical", "within_tolerance", "different")


def data_differences(row: dict[str, Any], X: Any, y: Any) -> list[str]:
    """How ``(X, y)`` differs from the data ``row`` was trained on; empty when the fingerprints match.

    Raises `InvalidInputError` when the version has no recorded fingerprint
    (registered from a model fitted elsewhere without its data).
    """
    recorded = row.get("data_fingerprint")
    if not recorded:
        raise InvalidInputError(
            f"{row['model_id']}:{row['version']} has no recorded training data fingerprint (it was registered "
            "without X and y), so there is nothing to reproduce it against."
        )
    if provenance.data_fingerprint(X, y) == recorded:
        return []
    found: list[str] = []
    expected_rows = (row.get("training_samples") or 0) + (row.get("validation_samples") or 0)
    shape: tuple[int, ...] = tuple(getattr(X, "shape", None) or (len(X),))
    n_rows, width = int(shape[0]), (int(shape[1]) if len(shape) > 1 else 1)
    if expected_rows and n_rows != expected_rows:
        found.append(f"{n_rows} rows where the version was trained on {expected_rows}")
    if row.get("feature_count") is not None and width != row["feature_count"]:
        found.append(f"{width} columns where the version had {row['feature_count']}")
    names, recorded_names = training.feature_names_of(X), row.get("feature_names")
    if recorded_names and names and list(names) != list(recorded_names):
        missing = [n for n in recorded_names if n not in names]
        extra = [n for n in names if n not in recorded_names]
        found.append("columns " + "; ".join(filter(None, [
            f"missing {', '.join(map(str, missing[:5]))}" if missing else "",
            f"new {', '.join(map(str, extra[:5]))}" if extra else "",
            "in another order" if not missing and not extra else ""])))
    if not found:
        found.append("the same shape and columns, but other values (or dtypes, or row order)")
    return found


def refit(stored: Any, row: dict[str, Any], X: Any, y: Any) -> Any:
    """An unfitted clone of ``stored`` fitted on the training part of the split ``row`` recorded."""
    from sklearn.base import clone

    config = row.get("training_config") or {}
    estimator = clone(stored)
    parts = training.split(X, y, float(config.get("validation_split", 0.0)), row.get("task_type") or "",
                           int(config.get("seed") or 0))
    estimator.fit(parts["X_train"], parts["y_train"])
    return estimator


def compare_predictions(stored: Any, refitted: Any, X: Any, *, atol: float) -> dict[str, Any]:
    """``outcome`` (one of `OUTCOMES`), ``max_abs_diff``, ``n_different`` and ``n_rows``.

    Labels or values from ``predict`` are compared, and for classifiers with
    ``predict_proba`` the probabilities too (``max_abs_diff`` is over them).
    """
    a, b = np.asarray(stored.predict(X)), np.asarray(refitted.predict(X))
    numbers = a.dtype.kind in "fc" and b.dtype.kind in "fc"
    if numbers:
        gaps = np.abs(a.astype(float) - b.astype(float))
        n_different = int(np.count_nonzero(gaps > atol))
        max_abs_diff = float(gaps.max()) if gaps.size else 0.0
    else:
        n_different = int(np.count_nonzero(a != b))
        max_abs_diff = 0.0
    identical = np.array_equal(a, b)
    if hasattr(stored, "predict_proba") and hasattr(refitted, "predict_proba"):
        pa, pb = np.asarray(stored.predict_proba(X)), np.asarray(refitted.predict_proba(X))
        identical = identical and np.array_equal(pa, pb)
        if pa.shape == pb.shape and pa.size:
            max_abs_diff = max(max_abs_diff, float(np.abs(pa - pb).max()))
    if identical:
        outcome = "identical"
    elif n_different == 0 and max_abs_diff <= atol:
        outcome = "within_tolerance"
    else:
        outcome = "different"
    return {"outcome": outcome, "max_abs_diff": max_abs_diff, "n_different": n_different, "n_rows": len(a)}
