"""Recorded cross-validations compared, pinned on hand-made records: which records are chosen, the
messages naming what differs, and the frame of the corrected resampled t-test (Nadeau & Bengio)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import t as student_t

from jupyter_modelservice.evaluation.cv_compare import (
    TEST_NAME,
    choose_records,
    cv_comparison_frame,
    cv_record,
    describe_splitter,
)
from jupyter_modelservice.exceptions import IncompatibleModelsError, InvalidInputError

FP_A, FP_B = "sha256:" + "a" * 64, "sha256:" + "b" * 64
SHORT_A, SHORT_B = "sha256:" + "a" * 12 + "…", "sha256:" + "b" * 12 + "…"
KFOLD = {"class": "KFold", "n_splits": 5, "shuffle": True, "random_state": 0}
STRATIFIED = {"class": "StratifiedKFold", "n_splits": 5, "shuffle": False, "random_state": None}
TAIL = ("Cross-validate every model on the same data with the same number of folds "
        "(cross_validate_model(..., cv_folds=K, model_id=ref) or %train ... --cv K): the splitter is fixed "
        "and seeded, so the folds then match.")


def _record(fp=FP_A, splitter=None, folds="sha256:" + "f" * 64, n=100, **scores):
    scores = scores or {"accuracy": [0.8, 0.85, 0.9, 0.8, 0.85]}
    return {"data_fingerprint": fp, "n_samples": n, "kind": "cv",
            "details": {"splitter": dict(KFOLD if splitter is None else splitter), "folds_digest": folds,
                        "train_sizes": [80, 80, 80, 80, 80], "test_sizes": [20, 20, 20, 20, 20], "scores": scores}}


# -- cv_record / describe_splitter -----------------------------------------------------------------

def test_a_cv_record_holds_the_scores_means_splitter_and_model():
    result = {"scoring": ["accuracy", "f1"], "splitter": KFOLD, "folds_digest": "sha256:" + "f" * 64,
              "train_sizes": [8, 8], "test_sizes": [2, 2], "model_class": "sklearn.linear_model.LogisticRegression",
              "model_params": {"C": 1.0},
              "scores": {"accuracy": {"cv_scores": np.array([0.5, 1.0])}, "f1": {"cv_scores": [0.25, 0.75]}}}
    record = cv_record("m", 2, "classification", FP_A, np.int64(10), result)
    assert record == {
        "model_id": "m", "version": 2, "kind": "cv", "task_type": "classification", "data_fingerprint": FP_A,
        "n_samples": 10, "metrics": {"accuracy": 0.75, "f1": 0.5},
        "details": {"splitter": KFOLD, "folds_digest": "sha256:" + "f" * 64, "train_sizes": [8, 8],
                    "test_sizes": [2, 2], "scores": {"accuracy": [0.5, 1.0], "f1": [0.25, 0.75]},
                    "model_class": "sklearn.linear_model.LogisticRegression", "model_params": {"C": 1.0}},
    }
    single = cv_record("m", 1, "regression", FP_A, 10, {"scoring": "r2", "cv_scores": [0.5, 0.7], "splitter": KFOLD,
                                                        "folds_digest": "d", "train_sizes": [5], "test_sizes": [5]})
    assert single["metrics"] == {"r2": pytest.approx(0.6)} and single["details"]["scores"] == {"r2": [0.5, 0.7]}
    assert single["details"]["model_class"] is None and single["details"]["model_params"] is None


def test_describe_splitter():
    assert describe_splitter(STRATIFIED) == "StratifiedKFold(n_splits=5, shuffle=False, random_state=None)"
    assert describe_splitter(KFOLD) == "KFold(n_splits=5, shuffle=True, random_state=0)"
    assert describe_splitter(None) == describe_splitter({}) == "unknown splitter"


# -- choose_records --------------------------------------------------------------------------------

def test_the_newest_agreeing_records_are_chosen_with_the_first_scoring_by_default():
    reordered = dict(reversed(list(KFOLD.items())))  # the same splitter, keys in another order
    old = _record(folds="sha256:" + "1" * 64)
    new_1 = _record(accuracy=[0.9] * 5, f1=[0.8] * 5)
    new_2 = _record(splitter=reordered, f1=[0.7] * 5, accuracy=[0.8] * 5)
    chosen, scoring = choose_records({"m:1": [new_1, old], "m:2": [new_2]})
    assert scoring == "accuracy" and chosen == {"m:1": new_1, "m:2": new_2}
    chosen, scoring = choose_records({"m:2": [new_2], "m:1": [new_1, old]})
    assert scoring == "f1" and chosen == {"m:2": new_2, "m:1": new_1}


def test_a_newer_record_without_the_scoring_is_passed_over():
    without = _record(f1=[0.7] * 5)
    with_it = _record(folds="sha256:" + "2" * 64, accuracy=[0.9] * 5)
    other = _record(folds="sha256:" + "2" * 64, accuracy=[0.8] * 5)
    chosen, scoring = choose_records({"m:1": [without, with_it], "m:2": [other]}, scoring="accuracy")
    assert scoring == "accuracy" and chosen == {"m:1": with_it, "m:2": other}


def test_versions_without_a_cv_are_named():
    with pytest.raises(InvalidInputError) as info:
        choose_records({"m:1": [_record()], "m:2": []})
    assert str(info.value) == ("m:2 has no recorded cross-validation with its folds: cross-validate on a version "
                               "with cross_validate_model(model, X, y, cv_folds=5, model_id='m:2') or train with "
                               "%train ... --cv 5, then compare.")
    with pytest.raises(InvalidInputError) as info:
        choose_records({"a:1": [], "m:1": [_record()], "b:3": []})
    assert str(info.value).startswith("a:1, b:3 have no recorded cross-validation with its folds: ")
    assert "model_id='a:1')" in str(info.value)


def _refused(records, scoring=None):
    with pytest.raises(IncompatibleModelsError) as info:
        choose_records(records, scoring)
    return str(info.value)


def test_different_data_is_named_with_sizes():
    message = _refused({"m:1": [_record()], "m:2": [_record(fp=FP_B, n=120)]})
    assert message == (f"Cannot compare the cross-validations of m:1, m:2: they were cross-validated on different "
                       f"data (m:1 on {SHORT_A} (n = 100); m:2 on {SHORT_B} (n = 120)). {TAIL}")


def test_different_splitters_are_named():
    message = _refused({"m:1": [_record()], "m:2": [_record(splitter=STRATIFIED)]})
    assert message == ("Cannot compare the cross-validations of m:1, m:2: they were cross-validated on different "
                       "folds (m:1 with KFold(n_splits=5, shuffle=True, random_state=0); m:2 with "
                       f"StratifiedKFold(n_splits=5, shuffle=False, random_state=None)). {TAIL}")


def test_different_folds_of_one_splitter_are_named():
    message = _refused({"m:1": [_record()], "m:2": [_record(folds="sha256:" + "9" * 64)]})
    assert message == ("Cannot compare the cross-validations of m:1, m:2: the same splitter on the same data gave "
                       "them different folds (recorded with different scikit-learn versions?); cross-validate them "
                       f"again in one environment. {TAIL}")


def test_a_missing_scoring_is_named():
    records = {"m:1": [_record(accuracy=[0.9] * 5, f1=[0.8] * 5)], "m:2": [_record(accuracy=[0.8] * 5)],
               "m:3": [_record(accuracy=[0.7] * 5)]}
    assert _refused(records, "f1") == (f"Cannot compare the cross-validations of m:1, m:2, m:3: m:2, m:3 were not "
                                       f"scored with 'f1'. {TAIL}")
    del records["m:3"]
    assert _refused(records, "f1") == (f"Cannot compare the cross-validations of m:1, m:2: m:2 was not scored "
                                       f"with 'f1'. {TAIL}")


# -- cv_comparison_frame ---------------------------------------------------------------------------

def _chosen(*score_lists, train=(80, 81, 80, 81, 80), test=(20, 19, 20, 19, 20)):
    chosen = {}
    for i, scores in enumerate(score_lists, start=1):
        record = _record(accuracy=list(scores))
        record["details"]["train_sizes"], record["details"]["test_sizes"] = list(train), list(test)
        chosen[f"m:{i}"] = ({"model_id": "m", "version": i, "model_class": f"Class{i}"}, record)
    return chosen


def _corrected_p(a, b, n_train, n_test):
    d = np.asarray(a) - np.asarray(b)
    k = d.size
    return 2 * student_t.sf(abs(d.mean() / math.sqrt((1 / k + n_test / n_train) * d.var(ddof=1))), k - 1)


def test_the_frame_ranks_by_mean_and_tests_against_the_best():
    fair = [0.80, 0.78, 0.82, 0.79, 0.81]
    best = [0.86, 0.84, 0.88, 0.83, 0.85]
    poor = [0.70, 0.76, 0.66, 0.74, 0.69]
    frame = cv_comparison_frame(_chosen(fair, best, poor), "accuracy")
    assert list(frame.columns) == ["model_id", "version", "model_class", "scoring", "mean_score", "std_score",
                                   "n_folds", "fold_scores", "p_value", "tied_with_best"]
    assert frame["version"].tolist() == [2, 1, 3] and frame["model_class"].tolist() == ["Class2", "Class1", "Class3"]
    assert frame["scoring"].tolist() == ["accuracy"] * 3 and frame["n_folds"].tolist() == [5, 5, 5]
    for i, scores in enumerate((best, fair, poor)):
        assert frame["fold_scores"][i] == scores
        assert frame["mean_score"][i] == pytest.approx(np.mean(scores), rel=1e-12)
        assert frame["std_score"][i] == pytest.approx(np.std(scores, ddof=0), rel=1e-12)
    n_train, n_test = 80, 20  # mean fold sizes 80.4 and 19.6, rounded
    raw = [_corrected_p(best, fair, n_train, n_test), _corrected_p(best, poor, n_train, n_test)]
    lo, hi = sorted(raw)
    holm = {lo: min(1.0, 2 * lo), hi: max(min(1.0, 2 * lo), hi)}
    assert math.isnan(frame["p_value"][0])
    assert frame["p_value"][1:].tolist() == pytest.approx([holm[raw[0]], holm[raw[1]]], rel=1e-9)
    assert frame["tied_with_best"].tolist() == [True, *(p >= 0.05 for p in frame["p_value"][1:])]
    assert frame.attrs == {"metric": "accuracy", "test": TEST_NAME, "alpha": 0.05, "n_folds": 5, "n_train": 80,
                           "n_test": 20, "splitter": KFOLD, "folds_digest": "sha256:" + "f" * 64,
                           "data_fingerprint": FP_A, "n_samples": 100}
    assert TEST_NAME == "corrected resampled t-test"


def test_a_version_exactly_at_alpha_is_tied_with_the_best():
    chosen = _chosen([0.86, 0.84, 0.88, 0.83, 0.85], [0.80, 0.81, 0.84, 0.79, 0.83])
    p = cv_comparison_frame(chosen, "accuracy")["p_value"][1]
    assert 0 < p < 1
    assert cv_comparison_frame(chosen, "accuracy", alpha=p)["tied_with_best"].tolist() == [True, True]
    assert cv_comparison_frame(chosen, "accuracy", alpha=min(0.999, p * 1.0001))["tied_with_best"].tolist() == [
        True, False]


def test_equal_means_keep_the_order_given():
    scores = [[0.5, 0.75, 0.25, 0.5, 0.5], [0.25, 0.75, 0.5, 0.5, 0.5]] * 12  # 24 versions, equal means
    frame = cv_comparison_frame(_chosen(*scores, [0.9] * 5), "accuracy")
    assert frame["version"].tolist() == [25, *range(1, 25)]


@pytest.mark.parametrize("alpha, shown", [(0, "0"), (1, "1"), (1.0, r"1\.0"), (1.5, r"1\.5")])
def test_alpha_out_of_bounds_is_refused(alpha, shown):
    with pytest.raises(InvalidInputError, match=rf"^alpha must be between 0 and 1, got {shown}\.$"):
        cv_comparison_frame(_chosen([0.8] * 5, [0.7] * 5), "accuracy", alpha=alpha)
