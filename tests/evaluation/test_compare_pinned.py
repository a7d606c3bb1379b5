"""The comparison table (`evaluation.compare`): its order, its messages and what it records about the
significance test, pinned where mutation testing found them loose."""

from __future__ import annotations

import numpy as np
import pytest

from jupyter_modelservice.evaluation.compare import add_significance, check_same_task, comparison_frame
from jupyter_modelservice.exceptions import IncompatibleModelsError, InvalidInputError


def _row(model_id, **metrics):
    return {"model_id": model_id, "version": 1, "model_class": "X", "task_type": "classification",
            "accuracy": 0.8, "precision": 0.7, "recall": 0.7, "f1_score": 0.7, "roc_auc": 0.9, **metrics}


def test_a_tie_on_the_metric_is_broken_by_the_next_metrics_in_display_order():
    rows = [_row("a", precision=0.6), _row("b", precision=0.9), _row("c", precision=0.9, recall=0.8)]
    for order in (rows, rows[::-1], [rows[1], rows[0], rows[2]]):
        assert comparison_frame(order)["model_id"].tolist() == ["c", "b", "a"]
    # by precision: a tie between b and c on it is broken by accuracy (the first metric), then recall
    tied = [_row("b", precision=0.9, accuracy=0.7), _row("c", precision=0.9, recall=0.8, accuracy=0.7),
            _row("d", precision=0.9, accuracy=0.75)]
    assert comparison_frame(tied, "precision")["model_id"].tolist() == ["d", "c", "b"]


def test_an_error_metric_sorts_smallest_first_and_its_ties_by_the_others():
    rows = [{"model_id": m, "version": 1, "model_class": "R", "task_type": "regression", "r2_score": r2,
             "rmse": rmse, "mae": 1.0, "mse": rmse ** 2} for m, r2, rmse in
            [("a", 0.5, 2.0), ("b", 0.9, 1.0), ("c", 0.8, 1.0)]]
    assert comparison_frame(rows, "rmse")["model_id"].tolist() == ["b", "c", "a"]


def test_no_rows_give_an_empty_table_with_every_column():
    assert check_same_task([]) == "classification"
    frame = comparison_frame([])
    assert frame.empty and list(frame.columns) == ["model_id", "version", "model_class", "task_type",
                                                   "accuracy", "precision", "recall", "f1_score", "roc_auc"]


def test_an_unknown_sort_metric_lists_the_task_s_metrics():
    with pytest.raises(InvalidInputError) as info:
        comparison_frame([_row("a")], "r2_score")
    assert str(info.value) == ("Cannot sort by 'r2_score': choose one of accuracy, precision, recall, f1_score, "
                               "roc_auc for classification models.")


def test_mixed_tasks_are_refused_listing_each_version_and_its_task():
    with pytest.raises(IncompatibleModelsError) as info:
        check_same_task([_row("a"), {**_row("b"), "task_type": "regression"}])
    assert str(info.value) == ("Cannot compare classification and regression models together: "
                               "a:1 (classification), b:1 (regression). Compare models of one task type at a time.")


def _compared(**options):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    good = np.where(rng.random(400) < 0.85, y, 1 - y)
    fair = np.where(rng.random(400) < 0.8, y, 1 - y)
    rows = [_row("good", accuracy=float(np.mean(good == y))), _row("fair", accuracy=float(np.mean(fair == y)))]
    predictions = {"good:1": {"y_pred": good}, "fair:1": {"y_pred": fair}}
    return add_significance(comparison_frame(rows), y, predictions, n_bootstrap=200, **options)


def test_the_test_s_settings_are_recorded_with_the_table():
    frame = _compared(data_fingerprint="sha256:abc")
    assert frame.attrs["alpha"] == 0.05 and frame.attrs["random_state"] == 0 and frame.attrs["n_bootstrap"] == 200
    assert frame.attrs["n_samples"] == 400 and frame.attrs["data_fingerprint"] == "sha256:abc"
    chosen = _compared(alpha=0.2, random_state=7)
    assert (chosen.attrs["alpha"], chosen.attrs["random_state"]) == (0.2, 7)
    assert chosen["ci_low"].tolist() != frame["ci_low"].tolist()  # another seed, other resamples


def test_alpha_sets_the_width_of_the_intervals():
    wide, narrow = _compared(alpha=0.01), _compared(alpha=0.5)
    assert ((narrow["ci_high"] - narrow["ci_low"]) < (wide["ci_high"] - wide["ci_low"])).all()


def test_the_defaults_are_those_documented():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 60)
    frame = add_significance(comparison_frame([_row("a", accuracy=1.0), _row("b", accuracy=float(np.mean(y == 1)))]),
                             y, {"a:1": {"y_pred": y}, "b:1": {"y_pred": np.ones_like(y)}})
    assert (frame.attrs["alpha"], frame.attrs["n_bootstrap"], frame.attrs["random_state"]) == (0.05, 1000, 0)
