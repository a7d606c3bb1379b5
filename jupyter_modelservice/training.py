"""Estimator resolution, input checks, the validation split, fitting and cross-validation.

No storage here: functions take data and estimators and return plain values.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from typing import Any

import numpy as np

from .exceptions import InvalidInputError

__all__ = [
    "ProgressCallback",
    "CV_SEED",
    "check_xy",
    "cross_validate",
    "cv_splitter",
    "default_scoring",
    "feature_names_of",
    "fit_and_score",
    "infer_task",
    "json_params",
    "make_estimator",
    "split",
]

#: ``progress(done, total)`` after each finished unit of work (fold, model).
ProgressCallback = Callable[[int, int], None]

#: Seed of every cross-validation splitter: models cross-validated on the same data get the same folds.
CV_SEED = 0


def make_estimator(model_class: Any, params: Mapping[str, Any]) -> Any:
    """An unfitted estimator from a class, or a clone of an instance / Pipeline, with ``params`` set."""
    from sklearn.base import clone

    if isinstance(model_class, type):
        if not hasattr(model_class, "fit"):
            raise InvalidInputError(
                f"{model_class.__name__} has no fit() method; pass a scikit-learn compatible "
                "estimator class such as RandomForestClassifier."
            )
        try:
            return model_class(**params)
        except TypeError as err:
            raise InvalidInputError(f"Cannot create {model_class.__name__}(**params): {err}") from err
    if not hasattr(model_class, "fit"):
        raise InvalidInputError(
            f"model_class must be an estimator class or an unfitted estimator with fit(); "
            f"got {type(model_class).__name__}."
        )
    try:
        estimator = clone(model_class)
    except TypeError:  # not clonable (no get_params): use as given
        estimator = model_class
    if params:
        try:
            estimator.set_params(**params)
        except (ValueError, AttributeError) as err:
            raise InvalidInputError(f"Cannot set parameters {sorted(params)}: {err}") from err
    return estimator


def infer_task(estimator: Any, y: Any = None) -> str:
    """``"classification"`` or ``"regression"``, from the estimator (when not None), else from the target."""
    from sklearn.base import is_classifier, is_regressor

    if estimator is not None and is_classifier(estimator):
        return "classification"
    if estimator is not None and is_regressor(estimator):
        return "regression"
    if y is not None:
        from sklearn.utils.multiclass import type_of_target

        if type_of_target(y) in ("binary", "multiclass", "multilabel-indicator"):
            return "classification"
    return "regression"


def default_scoring(task_type: str) -> str:
    """The score recorded as train/validation score: accuracy or R²."""
    return "accuracy" if task_type == "classification" else "r2"


def _n_rows(data: Any, name: str) -> int:
    shape = getattr(data, "shape", None)
    if shape is not None:
        if len(shape) == 0:
            raise InvalidInputError(f"{name} is a scalar; pass one row per sample.")
        return int(shape[0])
    try:
        return len(data)
    except TypeError as err:
        raise InvalidInputError(f"{name} must be an array, DataFrame or list, not {type(data).__name__}.") from err


def check_xy(X: Any, y: Any, task_type: str | None = None) -> tuple[Any, Any]:
    """Validate X and y; return them with lists turned into arrays.

    Raises `InvalidInputError` naming what to fix: length mismatch, empty
    input, 1-D X, missing targets, or a single class for a classifier.
    """
    if X is None or y is None:
        raise InvalidInputError("Both X and y are required.")
    if isinstance(X, list):
        X = np.asarray(X)
    if not hasattr(y, "shape"):
        y = np.asarray(y)
    n_x, n_y = _n_rows(X, "X"), _n_rows(y, "y")
    if getattr(X, "ndim", 2) == 1:
        raise InvalidInputError("X is 1-D; pass a 2-D table of features (X.reshape(-1, 1) for one feature).")
    if n_x != n_y:
        raise InvalidInputError(f"X has {n_x} rows but y has {n_y}; pass exactly one target per row of X.")
    if n_x == 0:
        raise InvalidInputError("X and y are empty; pass at least a few rows.")
    missing = _missing_targets(y)
    if missing:
        raise InvalidInputError(
            f"y has {missing} missing value(s) (NaN/None); drop those rows or fill them before training."
        )
    if task_type == "classification":
        classes = np.unique(np.asarray(y))
        if len(classes) < 2:
            raise InvalidInputError(
                f"y has a single class ({classes[0]!r}); a classifier needs at least two classes."
            )
    return X, y


def _missing_targets(y: Any) -> int:
    import pandas as pd

    return int(np.count_nonzero(pd.isna(y)))  # NaN and None, without copying numeric y


def feature_names_of(X: Any) -> list[str] | None:
    """Column names of a DataFrame, else None."""
    columns = getattr(X, "columns", None)
    return [str(c) for c in columns] if columns is not None else None


def split(X: Any, y: Any, validation_split: float, task_type: str, seed: int) -> dict[str, Any]:
    """Hold out ``validation_split`` of the rows, stratified for classification when possible."""
    if not isinstance(validation_split, numbers.Real) or not 0 <= validation_split < 1:
        raise InvalidInputError(
            f"validation_split must be a number in [0, 1), got {validation_split!r}; "
            "use 0 to train on every row."
        )
    config: dict[str, Any] = {"validation_split": float(validation_split), "seed": seed, "stratified": False}
    if validation_split == 0:
        return {"X_train": X, "y_train": y, "X_val": None, "y_val": None, "config": config}
    from sklearn.model_selection import train_test_split

    n = _n_rows(X, "X")
    n_val = math.ceil(n * validation_split)
    if n_val < 1 or n - n_val < 1:
        raise InvalidInputError(
            f"validation_split={validation_split} leaves no rows for training or validation with {n} rows."
        )
    stratify = None
    if task_type == "classification":
        _, counts = np.unique(np.asarray(y), return_counts=True)
        if counts.min() >= 2 and n_val >= len(counts) and n - n_val >= len(counts):
            stratify = y
            config["stratified"] = True
    X_tr, X_val, y_tr, y_val = train_test_split(
        X, y, test_size=validation_split, random_state=seed, stratify=stratify
    )
    return {"X_train": X_tr, "y_train": y_tr, "X_val": X_val, "y_val": y_val, "config": config}


def fit_and_score(estimator: Any, parts: Mapping[str, Any], scoring: str) -> dict[str, Any]:
    """Fit on the training part and score both parts with ``scoring``."""
    from sklearn.metrics import get_scorer

    start = time.perf_counter()
    try:
        estimator.fit(parts["X_train"], parts["y_train"])
    except (ValueError, TypeError) as err:
        raise InvalidInputError(f"{type(estimator).__name__}.fit failed: {err}") from err
    fit_seconds = time.perf_counter() - start
    scorer = get_scorer(scoring)
    train_score = _score(scorer, scoring, estimator, parts["X_train"], parts["y_train"], "training")
    validation_score = None
    if parts["X_val"] is not None:
        validation_score = _score(scorer, scoring, estimator, parts["X_val"], parts["y_val"], "validation")
    return {"train_score": train_score, "validation_score": validation_score, "fit_seconds": fit_seconds}


def _score(scorer: Any, scoring: str, estimator: Any, X: Any, y: Any, part: str) -> float:
    """``scorer`` on one part; its failures become an `InvalidInputError` that says what to do."""
    try:
        return float(scorer(estimator, X, y))
    except (ValueError, TypeError) as err:
        name = type(estimator).__name__
        missing = _rows_with_missing(X)
        if missing:
            raise InvalidInputError(
                f"{name} cannot score the {part} part: {missing} of its rows have missing values (NaN), "
                f"which {name} does not accept (the rows it was fitted on had none). Fill them, e.g. "
                f"make_pipeline(SimpleImputer(), {name}()), drop those rows from X and y, or use an "
                "estimator that accepts NaN such as HistGradientBoostingClassifier / Regressor; "
                "validation_split=0 skips the validation part."
            ) from err
        raise InvalidInputError(
            f"{name} was fitted but cannot score the {part} part with {scoring!r}: {err} "
            "Check that every row of X has the same columns and kinds of values (no NaN or infinity), "
            "or pass validation_split=0 to train on every row without a validation score."
        ) from err


def _rows_with_missing(X: Any) -> int:
    """How many rows of ``X`` hold NaN or None (0 when that cannot be told cheaply)."""
    import pandas as pd

    try:
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
        return int(frame.isna().any(axis=1).sum())
    except (ValueError, TypeError):  # sparse or exotic input: the scorer's own message says it
        return 0


def cross_validate(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    cv_folds: int,
    scoring: str | Sequence[str] | None,
    task_type: str,
    n_jobs: int | None = None,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """K-fold cross-validation with per-fold progress, on the fixed splitter of `cv_splitter`.

    Folds run through :class:`joblib.Parallel`, so the active joblib backend
    (loky, threading, dask) is honoured. Besides the scores, the result
    records the ``splitter`` (class, n_splits, shuffle, random_state), the
    ``train_sizes`` / ``test_sizes`` of the folds and ``folds_digest`` (sha256
    of the test rows of each fold): what a comparison of cross-validations
    checks to know the models saw the same folds.
    """
    from joblib import Parallel, delayed, parallel_config
    from sklearn.base import clone, is_classifier
    from sklearn.model_selection import cross_validate as sk_cross_validate

    if isinstance(cv_folds, bool) or not isinstance(cv_folds, numbers.Integral) or cv_folds < 2:
        raise InvalidInputError(f"cv_folds must be an integer of at least 2, got {cv_folds!r}.")
    names = [scoring] if isinstance(scoring, str) else list(scoring or [default_scoring(task_type)])
    _check_scorings(names)
    splitter = cv_splitter(int(cv_folds), y, classifier=is_classifier(estimator))
    try:
        folds = list(splitter.split(X, y))
    except ValueError as err:
        raise InvalidInputError(f"Cannot split into {cv_folds} folds: {err}") from err

    # On a Dask cluster each fold is one task: an estimator's own joblib calls (a forest's
    # trees) run inside it instead of going back to the scheduler as hundreds of tiny tasks.
    on_dask = _dask_active()

    def one_fold(train: np.ndarray, test: np.ndarray) -> dict[str, Any]:
        with parallel_config(backend="sequential") if on_dask else nullcontext():
            return sk_cross_validate(clone(estimator), X, y, cv=[(train, test)], scoring=names,
                                     n_jobs=1, error_score="raise")

    total = len(folds)
    results = []
    start = time.perf_counter()
    tasks = (delayed(one_fold)(train, test) for train, test in folds)
    try:
        for done, result in enumerate(Parallel(n_jobs=n_jobs, return_as="generator")(tasks), 1):
            results.append(result)
            if progress is not None:
                progress(done, total)
    except (ValueError, TypeError) as err:
        raise InvalidInputError(f"Cross-validation failed: {err}") from err
    scores = {
        name: [float(r[f"test_{name}"][0]) for r in results] for name in names
    }
    first = names[0]
    out: dict[str, Any] = {
        "mean_score": float(np.mean(scores[first])),
        "std_score": float(np.std(scores[first])),
        "cv_scores": scores[first],
        "scoring": first if len(names) == 1 else names,
        "cv_folds": total,
        "fit_time": [float(r["fit_time"][0]) for r in results],
        "score_time": [float(r["score_time"][0]) for r in results],
        "total_seconds": time.perf_counter() - start,
        "task_type": task_type,
        "splitter": _describe_splitter(splitter),
        "train_sizes": [int(len(train)) for train, _ in folds],
        "test_sizes": [int(len(test)) for _, test in folds],
        "folds_digest": _folds_digest(folds),
    }
    if len(names) > 1:
        out["scores"] = {
            n: {"mean": float(np.mean(s)), "std": float(np.std(s)), "cv_scores": s}
            for n, s in scores.items()
        }
    return out


def cv_splitter(n_splits: int, y: Any, classifier: bool) -> Any:
    """The splitter of every cross-validation: fixed and seeded, so that folds are comparable.

    ``StratifiedKFold(n_splits, shuffle=True, random_state=CV_SEED)`` for a
    classifier on a binary or multiclass target, else ``KFold`` with the same
    settings. Shuffling keeps folds representative when the rows are ordered
    (by class, by time); the seed makes every model cross-validated on the same
    data see the same folds, in any session.
    """
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.utils.multiclass import type_of_target

    if classifier and type_of_target(y) in ("binary", "multiclass"):
        return StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=CV_SEED)
    return KFold(n_splits=n_splits, shuffle=True, random_state=CV_SEED)


def _describe_splitter(splitter: Any) -> dict[str, Any]:
    return {"class": type(splitter).__name__, "n_splits": int(splitter.get_n_splits()),
            "shuffle": bool(getattr(splitter, "shuffle", False)),
            "random_state": getattr(splitter, "random_state", None)}


def _folds_digest(folds: list[tuple[np.ndarray, np.ndarray]]) -> str:
    """``sha256:<hex>`` of the test rows of every fold, in order."""
    digest = hashlib.sha256()
    for _, test in folds:
        rows = np.ascontiguousarray(test, dtype="<i8")
        digest.update(rows.size.to_bytes(8, "little"))
        digest.update(rows.tobytes())
    return "sha256:" + digest.hexdigest()


def _dask_active() -> bool:
    """Whether joblib's active backend sends work to a Dask cluster."""
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return type(backend).__module__.startswith("joblib._dask")


def _check_scorings(names: list[str]) -> None:
    from sklearn.metrics import get_scorer_names

    known = set(get_scorer_names())
    for name in names:
        if not isinstance(name, str) or name not in known:
            raise InvalidInputError(
                f"Unknown scoring {name!r}; use a scikit-learn scorer name such as "
                "'accuracy', 'f1_weighted', 'roc_auc', 'r2' or 'neg_mean_squared_error' "
                "(sklearn.metrics.get_scorer_names() lists them all)."
            )


def json_params(estimator: Any) -> dict[str, Any]:
    """``get_params(deep=False)`` made JSON-safe (nested estimators become their repr)."""
    try:
        params = estimator.get_params(deep=False)
    except Exception:  # not a scikit-learn estimator
        return {}
    return {str(k): _json_value(v) for k, v in params.items()}


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value) if math.isfinite(value) else repr(float(value))
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, (str, int)) for k in value):
        return {str(k) if not isinstance(k, str) else k: _json_value(v) for k, v in value.items()}
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return repr(value)
