"""A behaviour probe: a few synthetic input rows kept with a version, and what the model predicted on them.

When a version is loaded under other library versions than it was saved with,
predicting the probe again tells a real change of behaviour from a harmless
version difference. The rows are synthesised from per-feature quantiles of the
training data (each row takes the same quantile of every column), so no
training row is stored; ``rows="real"`` keeps real rows instead, for models
that need realistic combinations of values.

A probe is a JSON document::

    {"columns": ["a", "b"] | None, "dtypes": ["float64", "int64"] | None,
     "rows": [[...], ...], "kind": "quantiles" | "real",
     "predict": [...], "proba": [[...], ...] | None}

``predict`` and ``proba`` are added when the version is saved (`with_outputs`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["changes", "inputs_from", "with_outputs"]

#: Rows in a probe; quantile levels spread over the middle 90 % of each column.
N_ROWS = 5
#: Rows sampled (seeded) to compute the quantiles of a large training set.
SAMPLE = 2000
#: Wider data keeps no probe: its rows would weigh on every registry row and sidecar.
MAX_COLUMNS = 1000


def inputs_from(X: Any, *, rows: str = "quantiles", n_rows: int = N_ROWS, seed: int = 0) -> dict[str, Any] | None:
    """The probe's input rows for training data ``X``, or None when ``X`` is of a kind it cannot hold
    (sparse matrices, more than two dimensions or `MAX_COLUMNS` columns, values JSON cannot store)."""
    if rows not in ("quantiles", "real"):
        raise ValueError(f"rows must be 'quantiles' or 'real', not {rows!r}")
    columns = [str(c) for c in X.columns] if hasattr(X, "columns") and hasattr(X, "iloc") else None
    dtypes = [str(t) for t in X.dtypes] if columns is not None else None
    if columns is None:
        array = np.asarray(X) if not hasattr(X, "toarray") else None
        if array is None or array.ndim != 2 or array.dtype.kind not in "biuf":
            return None
    n = X.shape[0]
    if n == 0 or X.shape[1] > MAX_COLUMNS:
        return None
    rng = np.random.default_rng(seed)
    picked = rng.integers(0, n, size=min(n, SAMPLE)) if n > SAMPLE else np.arange(n)
    if rows == "real":
        chosen = picked[np.linspace(0, len(picked) - 1, min(n_rows, len(picked))).astype(int)]
        values = (X.iloc[chosen].to_numpy(dtype=object) if columns is not None else np.asarray(X)[chosen])
        table = [[_json_value(v) for v in row] for row in values]
    else:
        levels = np.linspace(0.05, 0.95, n_rows)
        if columns is not None:
            frame = X.iloc[picked] if n > SAMPLE else X
            numeric = [j for j, t in enumerate(X.dtypes) if getattr(t, "kind", "O") in "iuf"]
            block = frame if len(numeric) == len(columns) else frame.iloc[:, numeric]
            found = _numeric_quantiles(block.to_numpy(dtype=float), levels) if numeric else []
            by_column: list[list[Any]] = [
                [] if j in numeric else _quantiles(frame.iloc[:, j], levels) for j in range(len(columns))]
            for j, values in zip(numeric, found):
                by_column[j] = values
        else:
            by_column = _numeric_quantiles(np.asarray(X)[picked].astype(float), levels)
        width = len(by_column)
        table = [[by_column[j][i] for j in range(width)] for i in range(n_rows)]
    if any(v is _UNSTORABLE for row in table for v in row):
        return None
    return {"columns": columns, "dtypes": dtypes, "rows": table, "kind": rows}


def with_outputs(estimator: Any, probe: dict[str, Any]) -> dict[str, Any]:
    """``probe`` with what ``estimator`` predicts on its rows (``predict``, and ``proba`` when it has
    ``predict_proba``).

    The predictions run under joblib's sequential backend: for a handful of rows
    an estimator's own ``n_jobs`` (a forest with ``n_jobs=-1``) only adds the cost
    of starting workers (~45 ms of a 60-tree forest's save), and its sums come
    in one fixed order, at save and at load alike.
    """
    from joblib import parallel_config

    X = _frame(probe)
    out = dict(probe)
    with parallel_config(backend="sequential"):
        out["predict"] = [_json_value(v) for v in np.asarray(estimator.predict(X)).ravel()]
        out["proba"] = None
        if hasattr(estimator, "predict_proba"):
            out["proba"] = np.asarray(estimator.predict_proba(X), dtype=float).round(12).tolist()
    return out


def changes(estimator: Any, probe: dict[str, Any], *, atol: float = 1e-9) -> dict[str, Any]:
    """How ``estimator``'s predictions on the probe differ from the recorded ones.

    Returns ``n_rows``, ``changed`` (rows whose prediction or probabilities
    moved by more than ``atol``) and ``max_abs_diff``.
    """
    now = with_outputs(estimator, probe)
    before_p, now_p = probe["predict"], now["predict"]
    changed = np.zeros(len(before_p), dtype=bool)
    largest = 0.0
    for i, (a, b) in enumerate(zip(before_p, now_p)):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
            gap = abs(float(a) - float(b))
            largest = max(largest, gap)
            changed[i] = gap > atol
        else:
            changed[i] = a != b
    if probe.get("proba") is not None and now["proba"] is not None:
        gaps = np.abs(np.asarray(probe["proba"], dtype=float) - np.asarray(now["proba"], dtype=float))
        if gaps.size:
            largest = max(largest, float(gaps.max()))
            changed |= (gaps > atol).any(axis=1)
    return {"n_rows": len(before_p), "changed": int(changed.sum()), "max_abs_diff": largest}


# -- helpers ---------------------------------------------------------------------------------
_UNSTORABLE = object()


def _json_value(value: Any) -> Any:
    """A JSON-safe scalar (NaN and infinity as None), or `_UNSTORABLE`."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return _UNSTORABLE


def _numeric_quantiles(sample: np.ndarray, levels: np.ndarray) -> list[list[Any]]:
    """Per column of a float ``sample``, its values at ``levels`` (NumPy's linear interpolation; NaN
    and infinity left out, None for a column with no finite value)."""
    if np.isfinite(sample).all():  # the usual case: one sort of every column, no per-column calls
        ordered = np.sort(sample, axis=0)
        position = levels * (len(ordered) - 1)
        low, high = np.floor(position).astype(int), np.ceil(position).astype(int)
        table = ordered[low] + (ordered[high] - ordered[low]) * (position - low)[:, None]
        return [[_json_value(float(v)) for v in table[:, j]] for j in range(table.shape[1])]
    return [_quantiles(sample[:, j], levels) for j in range(sample.shape[1])]


def _quantiles(column: Any, levels: np.ndarray) -> list[Any]:
    """The values of ``column`` at ``levels``: interpolated for numbers, the sorted values' for the rest."""
    values = np.asarray(column)
    if values.dtype.kind in "biuf" and values.dtype.kind != "b":
        finite = values[np.isfinite(values.astype(float))]
        if finite.size == 0:
            return [None] * len(levels)
        return [_json_value(float(v)) for v in np.quantile(finite.astype(float), levels)]
    present = sorted((v for v in values.tolist() if v is not None and v == v), key=repr)  # v == v: not NaN
    if not present:
        return [None] * len(levels)
    return [_json_value(present[int(round(q * (len(present) - 1)))]) for q in levels]


def _frame(probe: dict[str, Any]) -> Any:
    """The probe's rows as the model was fed: a DataFrame with the training columns and dtypes, else
    a float array."""
    if probe.get("columns") is None:
        return np.asarray(probe["rows"], dtype=float)
    import pandas as pd

    frame = pd.DataFrame(probe["rows"], columns=probe["columns"])
    for name, dtype in zip(probe["columns"], probe.get("dtypes") or []):
        try:
            frame[name] = frame[name].astype(dtype)
        except (TypeError, ValueError):  # e.g. a quantile of an integer column: rounded first
            try:
                frame[name] = frame[name].round().astype(dtype)
            except (TypeError, ValueError):
                pass
    return frame
