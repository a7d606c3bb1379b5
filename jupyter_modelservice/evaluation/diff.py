"""What differs between two model versions, and only that.

Pure functions over registry rows, fitted estimators, evaluation records and
predictions; `ModelService.diff` gathers those and calls them. Every list of
differences holds ``(name, a, b)`` tuples, sorted by name, for the names
whose values differ; a name one side lacks shows `ABSENT` there.

Stored scores are compared only when they were computed on the same data:
training scores when both versions were trained on the same data with the
same split, CV means when both used the same folds of the same data, test
metrics on the newest test data both were evaluated on. Otherwise a note
says why they were left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..exceptions import IncompatibleModelsError
from ..metric_names import metrics_for
from ..training import _json_value
from .records import common_fingerprint, short_fingerprint

__all__ = ["ABSENT", "changed", "disagreements", "flat_params", "score_differences", "version_differences"]

#: Shown for a parameter or field that one of the two versions does not have.
ABSENT = "(absent)"

_MODEL_FIELDS = ("model_class", "model_module", "task_type")
_DATA_FIELDS = ("data_fingerprint", "training_samples", "validation_samples", "feature_count", "feature_names",
                "training_config")
#: Relative and absolute tolerance under which two regression predictions agree (rounding noise).
RTOL, ATOL = 1e-9, 1e-12


def _describe(value: Any) -> Any:
    """A parameter value as compared and shown: a nested estimator by its class name, JSON-safe."""
    if hasattr(value, "get_params") and not isinstance(value, type):
        return type(value).__name__
    if isinstance(value, (list, tuple)):
        return [_describe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _describe(v) for k, v in value.items()}
    return _json_value(value)


def flat_params(estimator: Any) -> dict[str, Any]:
    """``get_params(deep=True)``: nested parameters under flat ``step__param`` names.

    A nested estimator (a Pipeline step, a meta-estimator's ``estimator``) is
    shown as its class name and a list of steps as ``[name, class]`` pairs, so
    that a changed step parameter appears once, under its own name. Empty
    for an object without ``get_params``.
    """
    try:
        params = estimator.get_params(deep=True)
    except Exception:  # not a scikit-learn estimator
        return {}
    return {str(name): _describe(value) for name, value in params.items()}


def changed(a: Mapping[str, Any], b: Mapping[str, Any],
            names: Iterable[str] | None = None) -> list[tuple[str, Any, Any]]:
    """``(name, a, b)`` for each name (default: every key of either) whose values differ, sorted."""
    keys = sorted(set(a) | set(b)) if names is None else list(names)
    out = []
    for name in keys:
        left, right = a.get(name, ABSENT), b.get(name, ABSENT)
        if _canonical(left) != _canonical(right):
            out.append((name, left, right))
    return out


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def version_differences(row_a: Mapping[str, Any], row_b: Mapping[str, Any]) -> dict[str, list[tuple[str, Any, Any]]]:
    """The class (``model``), training data (``data``) and library versions (``environment``) that differ."""
    return {
        "model": changed(row_a, row_b, _MODEL_FIELDS),
        "data": changed(row_a, row_b, _DATA_FIELDS),
        "environment": changed(row_a.get("environment") or {}, row_b.get("environment") or {}),
    }


def score_differences(row_a: Mapping[str, Any], row_b: Mapping[str, Any],
                      tests_a: Sequence[Mapping[str, Any]], tests_b: Sequence[Mapping[str, Any]],
                      refs: tuple[str, str]) -> tuple[list[tuple[str, Any, Any]], list[str]]:
    """Stored scores that differ, compared only on the same data; and notes on what was left out.

    ``tests_a`` / ``tests_b`` are the versions' test evaluation records, newest first.
    """
    out: list[tuple[str, Any, Any]] = []
    notes: list[str] = []
    same_training = all(row_a.get(k) == row_b.get(k) for k in ("data_fingerprint", "training_config", "scoring"))
    scoring = row_a.get("scoring") or "score"
    trained = {f"train {scoring}": "train_score", f"validation {scoring}": "validation_score"}
    if same_training:
        out += changed({n: row_a.get(c) for n, c in trained.items()}, {n: row_b.get(c) for n, c in trained.items()})
    elif any(row.get(c) is not None for row in (row_a, row_b) for c in trained.values()):
        notes.append(f"Training scores not compared: {refs[0]} and {refs[1]} were trained on different data or "
                     f"splits ({_fingerprints(row_a, row_b)}).")
    cv_a, cv_b = row_a.get("cv_scores") or {}, row_b.get("cv_scores") or {}
    if cv_a and cv_b:
        keys = ("data_fingerprint", "splitter", "folds_digest", "scoring")
        if cv_a.get("folds_digest") and all(cv_a.get(k) == cv_b.get(k) for k in keys):
            name = f"CV mean {cv_a.get('scoring')}"
            out += changed({name: cv_a.get("mean_score")}, {name: cv_b.get("mean_score")})
        else:
            notes.append("CV scores not compared: the cross-validations used different data, folds or scoring.")
    if tests_a and tests_b:
        try:
            fingerprint = common_fingerprint({refs[0]: tests_a, refs[1]: tests_b}, what="compare")
        except IncompatibleModelsError:
            notes.append("Stored test metrics not compared: the versions were never evaluated on the same data; "
                         "pass X and y to compare them.")
        else:
            metrics = [_newest(rows, fingerprint)["metrics"] or {} for rows in (tests_a, tests_b)]
            names = metrics_for(row_a.get("task_type"))
            label = f"on {short_fingerprint(fingerprint)}"
            out += changed({f"test {m} {label}": metrics[0].get(m) for m in names},
                           {f"test {m} {label}": metrics[1].get(m) for m in names})
    return out, notes


def _newest(rows: Sequence[Mapping[str, Any]], fingerprint: str) -> Mapping[str, Any]:
    return next(r for r in rows if r["data_fingerprint"] == fingerprint)


def _fingerprints(row_a: Mapping[str, Any], row_b: Mapping[str, Any]) -> str:
    a, b = row_a.get("data_fingerprint"), row_b.get("data_fingerprint")
    if a == b:
        return f"same data {short_fingerprint(a)}, other split or scoring"
    return f"{short_fingerprint(a)} vs {short_fingerprint(b)}"


def disagreements(y_a: Any, y_b: Any, task_type: str, index: Any = None) -> tuple[int, list[Any]]:
    """How many rows the two predictions disagree on, and which (labels of ``index``, else positions).

    Class labels disagree when they differ; regression predictions when they
    differ by more than rounding noise (``np.isclose`` with `RTOL`, `ATOL`).
    """
    a, b = np.asarray(y_a), np.asarray(y_b)
    if task_type == "regression":
        differ = ~np.isclose(a.astype(float), b.astype(float), rtol=RTOL, atol=ATOL)
    else:
        differ = a != b
    positions = np.flatnonzero(differ)
    rows = np.asarray(index)[positions].tolist() if index is not None else positions.tolist()
    return int(positions.size), rows
