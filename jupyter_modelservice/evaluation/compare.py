"""Build the comparison table of several evaluated models."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..exceptions import IncompatibleModelsError, InvalidInputError
from ..metric_names import higher_is_better, metrics_for
from .significance import paired_comparison

__all__ = ["add_significance", "check_same_task", "comparison_frame"]


def check_same_task(rows: Sequence[dict[str, Any]]) -> str:
    """The task type shared by ``rows`` (registry rows or evaluations), else `IncompatibleModelsError`."""
    tasks = {row["task_type"] for row in rows}
    if len(tasks) > 1:
        listing = ", ".join(f"{r['model_id']}:{r['version']} ({r['task_type']})" for r in rows)
        raise IncompatibleModelsError(
            f"Cannot compare classification and regression models together: {listing}. "
            "Compare models of one task type at a time."
        )
    return tasks.pop() if tasks else "classification"


def comparison_frame(rows: Sequence[dict[str, Any]], metric: str | None = None) -> Any:
    """A DataFrame, one row per evaluated model, best first by ``metric`` (default the task's main one).

    Each row holds ``model_id``, ``version``, ``model_class`` and the output of
    :func:`evaluate_estimator`. Models of different task types cannot share a
    table. Ties are broken by the other metrics, in display order.
    """
    import pandas as pd

    task = check_same_task(rows)
    metrics = metrics_for(task)
    if metric is None:
        metric = metrics[0]
    elif metric not in metrics:
        raise InvalidInputError(f"Cannot sort by {metric!r}: choose one of {', '.join(metrics)} "
                                f"for {task} models.")
    columns = ["model_id", "version", "model_class", "task_type", *metrics]
    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=columns)
    keys = [metric, *(m for m in metrics if m != metric)]
    frame = frame.sort_values(keys, ascending=[not higher_is_better(k) for k in keys],
                              na_position="last", kind="stable").reset_index(drop=True)
    frame.attrs["metric"] = metric
    return frame


def add_significance(frame: Any, y_true: Any, predictions: Mapping[str, Mapping[str, Any]], *,
                     alpha: float = 0.05, n_bootstrap: int = 1000, random_state: int = 0,
                     data_fingerprint: str | None = None, bootstrap: dict[str, Any] | None = None) -> Any:
    """Add ``ci_low``, ``ci_high``, ``p_value`` and ``tied_with_best`` for ``frame.attrs["metric"]``.

    ``predictions`` are keyed by ``"model_id:version"`` (``y_pred``, and
    ``y_score`` / ``classes`` for ROC AUC); ``bootstrap`` holds bootstrap
    values already computed for some of them and receives the new ones; see
    :func:`.significance.paired_comparison`.
    """
    metric = frame.attrs["metric"]
    refs = [f"{r.model_id}:{r.version}" for r in frame.itertuples()]
    values = dict(zip(refs, frame[metric].tolist()))
    results, test = paired_comparison(y_true, {ref: predictions[ref] for ref in refs}, metric, values,
                                      alpha=alpha, n_bootstrap=n_bootstrap, random_state=random_state,
                                      bootstrap=bootstrap)
    for column in ("ci_low", "ci_high", "p_value", "tied_with_best"):
        frame[column] = [getattr(results[ref], column) for ref in refs]
    frame.attrs.update(test=test, alpha=alpha, n_samples=len(y_true), n_bootstrap=n_bootstrap,
                       random_state=random_state, data_fingerprint=data_fingerprint)
    return frame
