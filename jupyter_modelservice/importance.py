"""Feature importances: tree importances, |coef| of linear models, or permutation importance."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .exceptions import InvalidInputError, NoImportanceWarning

__all__ = ["feature_importance"]


def _final_step(estimator: Any) -> tuple[Any, Any]:
    """(final estimator, preprocessing part or None) of a Pipeline; (estimator, None) otherwise."""
    steps = getattr(estimator, "steps", None)
    if steps:
        return steps[-1][1], estimator[:-1]
    return estimator, None


def _raw_importances(model: Any) -> np.ndarray | None:
    values = getattr(model, "feature_importances_", None)
    if values is not None:
        return np.asarray(values, dtype=float).ravel()
    coef = getattr(model, "coef_", None)
    if coef is None:
        return None
    coef = np.abs(np.asarray(coef, dtype=float))
    return coef.mean(axis=0) if coef.ndim == 2 else coef.ravel()


def _names(count: int, given: Sequence[str] | None, stored: Sequence[str] | None,
           preprocessing: Any) -> list[str]:
    for candidate in (given, stored):
        if candidate is not None and len(candidate) == count:
            return [str(n) for n in candidate]
    if given is not None and len(given) != count and preprocessing is None:
        raise InvalidInputError(
            f"feature_names has {len(given)} names but the model has {count} features."
        )
    if preprocessing is not None:
        try:
            out = preprocessing.get_feature_names_out(given if given is not None else stored)
            if len(out) == count:
                return [str(n) for n in out]
        except (AttributeError, ValueError, TypeError):
            pass
    return [f"feature_{i}" for i in range(count)]


def feature_importance(
    estimator: Any,
    feature_names: Sequence[str] | None = None,
    stored_names: Sequence[str] | None = None,
    *,
    permutation: bool = False,
    X: Any = None,
    y: Any = None,
    n_repeats: int = 5,
    random_state: int = 0,
    scoring: str | None = None,
) -> dict[str, float]:
    """Importance per feature, largest first.

    Tree models give ``feature_importances_``; linear models ``|coef_|``
    averaged over classes; a Pipeline its final step. ``permutation=True``
    (with ``X`` and ``y``) works for any estimator. Returns ``{}`` with a
    `NoImportanceWarning` when the model offers none.
    """
    if permutation:
        if X is None or y is None:
            raise InvalidInputError("permutation=True needs X and y to permute and score.")
        from sklearn.inspection import permutation_importance

        result = permutation_importance(estimator, X, y, n_repeats=n_repeats,
                                        random_state=random_state, scoring=scoring)
        values = np.asarray(result.importances_mean, dtype=float)
        columns = getattr(X, "columns", None)
        names = _names(len(values), feature_names,
                       [str(c) for c in columns] if columns is not None else stored_names, None)
    else:
        model, preprocessing = _final_step(estimator)
        raw = _raw_importances(model)
        if raw is None:
            warnings.warn(
                f"{type(model).__name__} has neither feature_importances_ nor coef_; "
                "use permutation=True with X and y.",
                NoImportanceWarning,
                stacklevel=3,
            )
            return {}
        values = raw
        names = _names(len(values), feature_names, stored_names, preprocessing)
    order = np.argsort(-values, kind="stable")
    return {names[i]: float(values[i]) for i in order}
