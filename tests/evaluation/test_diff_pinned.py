"""The pure functions of `evaluation.diff` pinned case by case: what is compared, under which name, and why not.

A short fingerprint is ``sha256:`` and the first 12 hex digits followed by ``…`` (`short_fingerprint`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from jupyter_modelservice.evaluation.diff import (
    ABSENT,
    ATOL,
    RTOL,
    changed,
    disagreements,
    flat_params,
    score_differences,
)

FP_A, FP_B, FP_C = "sha256:" + "a" * 64, "sha256:" + "b" * 64, "sha256:" + "c" * 64
SHORT_A, SHORT_B, SHORT_C = "sha256:" + "a" * 12 + "…", "sha256:" + "b" * 12 + "…", "sha256:" + "c" * 12 + "…"
REFS = ("m:1", "m:2")


def _row(**overrides):
    row = {"data_fingerprint": FP_A, "training_config": {"test_size": 0.2, "random_state": 0},
           "scoring": "accuracy", "train_score": 0.95, "validation_score": 0.85, "task_type": "classification",
           "cv_scores": None}
    row.update(overrides)
    return row


def _cv(**overrides):
    cv = {"data_fingerprint": FP_A, "splitter": "KFold(n_splits=5)", "folds_digest": "sha256:" + "f" * 64,
          "scoring": "accuracy", "mean_score": 0.81}
    cv.update(overrides)
    return cv


def _test_row(fingerprint, **metrics):
    return {"data_fingerprint": fingerprint, "metrics": metrics}


# -- changed / flat_params -------------------------------------------------------------------------

def test_a_name_only_one_side_has_shows_absent_there():
    assert changed({"x": 1}, {}) == [("x", 1, ABSENT)]
    assert changed({}, {"x": 1}) == [("x", ABSENT, 1)]
    assert changed({"x": None}, {}) == [("x", None, ABSENT)]  # None is a value, not an absence
    assert changed({}, {"x": None}) == [("x", ABSENT, None)]


def test_dicts_are_compared_by_content_not_key_order():
    assert changed({"p": {"a": 1, "b": 2}}, {"p": {"b": 2, "a": 1}}) == []
    assert changed({"p": {"a": 1, "b": 2}}, {"p": {"b": 2, "a": 3}}) == [("p", {"a": 1, "b": 2}, {"b": 2, "a": 3})]


def test_values_json_cannot_encode_are_compared_by_repr():
    assert changed({"p": Path("x")}, {"p": Path("x")}) == []
    assert changed({"p": Path("x")}, {"p": Path("y")}) == [("p", Path("x"), Path("y"))]
    assert changed({"n": np.int64(3)}, {"n": np.int64(3)}) == []


def test_flat_params_keep_a_dict_parameter_with_string_keys():
    params = flat_params(LogisticRegression(class_weight={0: 1, 1: 2.5}))
    assert params["class_weight"] == {"0": 1, "1": 2.5}


# -- score_differences: training scores ------------------------------------------------------------

def test_training_scores_on_the_same_data_and_split_are_compared():
    out, notes = score_differences(_row(), _row(train_score=0.97), [], [], REFS)
    assert out == [("train accuracy", 0.95, 0.97)] and notes == []


def test_training_scores_without_a_scoring_are_named_score():
    out, notes = score_differences(_row(scoring=None), _row(scoring=None, validation_score=0.8), [], [], REFS)
    assert out == [("validation score", 0.85, 0.8)] and notes == []


@pytest.mark.parametrize("field, value", [("training_config", {"test_size": 0.3, "random_state": 0}),
                                          ("scoring", "f1")])
def test_training_scores_of_another_split_or_scoring_of_the_same_data_are_not_compared(field, value):
    out, notes = score_differences(_row(), _row(**{field: value}, train_score=0.5), [], [], REFS)
    assert out == []
    assert notes == [f"Training scores not compared: m:1 and m:2 were trained on different data or splits "
                     f"(same data {SHORT_A}, other split or scoring)."]


def test_training_scores_of_different_data_name_both_fingerprints():
    out, notes = score_differences(_row(), _row(data_fingerprint=FP_B), [], [], ("x:3", "y:1"))
    assert out == []
    assert notes == [f"Training scores not compared: x:3 and y:1 were trained on different data or splits "
                     f"({SHORT_A} vs {SHORT_B})."]
    _, notes = score_differences(_row(data_fingerprint=None), _row(data_fingerprint=FP_B), [], [], REFS)
    assert notes[0].endswith(f"(unknown data vs {SHORT_B}).")


# -- score_differences: CV means -------------------------------------------------------------------

def test_cv_means_of_the_same_folds_are_compared_after_the_training_scores():
    out, notes = score_differences(_row(cv_scores=_cv()), _row(train_score=0.9, cv_scores=_cv(mean_score=0.83)),
                                   [], [], REFS)
    assert out == [("train accuracy", 0.95, 0.9), ("CV mean accuracy", 0.81, 0.83)] and notes == []
    same, notes = score_differences(_row(cv_scores=_cv()), _row(cv_scores=_cv()), [], [], REFS)
    assert same == [] and notes == []


@pytest.mark.parametrize("key, value", [("data_fingerprint", FP_B), ("splitter", "KFold(n_splits=10)"),
                                        ("folds_digest", "sha256:" + "e" * 64), ("scoring", "f1")])
def test_cv_means_of_other_data_folds_or_scoring_are_not_compared(key, value):
    out, notes = score_differences(_row(cv_scores=_cv()), _row(cv_scores=_cv(**{key: value}, mean_score=0.9)),
                                   [], [], REFS)
    assert out == []
    assert notes == ["CV scores not compared: the cross-validations used different data, folds or scoring."]


def test_cv_means_without_a_folds_digest_are_not_compared():
    out, notes = score_differences(_row(cv_scores=_cv(folds_digest=None)),
                                   _row(cv_scores=_cv(folds_digest=None, mean_score=0.9)), [], [], REFS)
    assert out == [] and notes == ["CV scores not compared: the cross-validations used different data, folds or "
                                   "scoring."]


def test_cv_scores_of_one_version_only_are_silently_skipped():
    assert score_differences(_row(cv_scores=_cv()), _row(), [], [], REFS) == ([], [])
    assert score_differences(_row(), _row(cv_scores=_cv()), [], [], REFS) == ([], [])


# -- score_differences: stored test metrics --------------------------------------------------------

def test_test_metrics_on_the_newest_common_data_are_compared_after_the_rest():
    tests_a = [_test_row(FP_A, accuracy=0.9, precision=0.8, recall=0.7)]
    tests_b = [_test_row(FP_B, accuracy=0.1), _test_row(FP_A, accuracy=0.9, precision=0.85, recall=0.7)]
    out, notes = score_differences(_row(), _row(train_score=0.9), tests_a, tests_b, REFS)
    assert notes == []
    assert out == [("train accuracy", 0.95, 0.9), (f"test precision on {SHORT_A}", 0.8, 0.85)]


def test_test_metrics_follow_the_task_type_of_the_rows():
    metrics_a = {"r2_score": 0.5, "rmse": 1.25, "mae": 1.0, "mse": 1.5625, "accuracy": 0.1}
    metrics_b = {"r2_score": 0.5, "rmse": 1.5, "mae": 1.0, "mse": 2.25, "accuracy": 0.2}
    regression = {"task_type": "regression", "scoring": "r2"}
    out, notes = score_differences(_row(**regression), _row(**regression), [_test_row(FP_C, **metrics_a)],
                                   [_test_row(FP_C, **metrics_b)], REFS)
    assert notes == []
    assert out == [(f"test mse on {SHORT_C}", 1.5625, 2.25), (f"test rmse on {SHORT_C}", 1.25, 1.5)]  # by name


def test_test_metrics_never_computed_on_the_same_data_get_a_note():
    out, notes = score_differences(_row(), _row(), [_test_row(FP_A, accuracy=0.9)], [_test_row(FP_B, accuracy=0.8)],
                                   REFS)
    assert out == []
    assert notes == ["Stored test metrics not compared: the versions were never evaluated on the same data; "
                     "pass X and y to compare them."]


def test_test_metrics_of_one_version_only_are_silently_skipped():
    assert score_differences(_row(), _row(), [_test_row(FP_A, accuracy=0.9)], [], REFS) == ([], [])
    assert score_differences(_row(), _row(), [], [_test_row(FP_A, accuracy=0.9)], REFS) == ([], [])


# -- disagreements --------------------------------------------------------------------------------

def test_regression_predictions_differing_by_rounding_noise_agree():
    a = np.array([1000.0, 0.0, 3.5, -2.0])
    b = a + np.array([1000.0 * 1e-12, 1e-14, 0.0, -2.0 * 1e-11])  # inside RTOL=1e-9 / ATOL=1e-12
    assert (RTOL, ATOL) == (1e-9, 1e-12)
    assert disagreements(a, b, "regression") == (0, [])
    assert disagreements(a.tolist(), b.tolist(), "regression", index=["w", "x", "y", "z"]) == (0, [])


def test_regression_predictions_beyond_the_tolerances_disagree():
    a = np.array([1000.0, 0.0, 3.5, 1.0, 7.0])
    b = np.array([1000.0001, 1e-10, 3.5, 1.0 + 1e-8, 7.0])  # relative 1e-7; absolute 1e-10 near zero; 1e-8
    assert disagreements(a, b, "regression") == (3, [0, 1, 3])
    assert disagreements(a, b, "regression", index=np.array([10, 11, 12, 13, 14])) == (3, [10, 11, 13])


def test_class_labels_disagree_when_they_differ():
    assert disagreements(np.array(["a", "b", "c"]), np.array(["a", "c", "c"]), "classification") == (1, [1])
    assert disagreements([1.0, 2.0], [1.0 + 1e-13, 2.0], "classification") == (1, [0])  # labels: exact
