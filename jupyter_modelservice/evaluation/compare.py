"""Build the comparison table of several evaluated models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..exceptions import IncompatibleModelsError
from ..metric_names import metrics_for

__all__ = ["check_same_task", "comparison_frame"]


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


def comparison_frame(rows: Sequence[dict[str, Any]]) -> Any:
    """A DataFrame, one row per evaluated model, best first by the task's main metric.

    Each row holds ``model_id``, ``version``, ``model_class`` and the output of
    :func:`evaluate_estimator`. Models of different task types cannot share a table.
    """
    import pandas as pd

    task = check_same_task(rows)
    metrics = metrics_for(task)
    columns = ["model_id", "version", "model_class", "task_type", *metrics]
    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=columns)
    main = metrics[0]
    return frame.sort_values(main, ascending=False, kind="stable").reset_index(drop=True)
