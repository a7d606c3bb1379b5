"""The paired statistics pinned value by value: each checked against scipy, scikit-learn or numpy by hand.

The bootstrap is checked against the documented resampling scheme (`RESAMPLING` 1): every resample is
a row of ``numpy.random.default_rng(random_state).integers(0, n, size=(n_bootstrap, n))``.
"""

from __future__ import annotations

import math
import warnings
from decimal import Decimal

import numpy as np
import pytest
from scipy.stats import binomtest, norm
from scipy.stats import t as student_t
from sklearn import metrics as skm

from jupyter_modelservice.evaluation import resampling, significance
from jupyter_modelservice.evaluation.significance import (
    PairedResult,
    corrected_ttest,
    holm,
    mcnemar_exact,
    paired_comparison,
    paired_differences,
)
from jupyter_modelservice.exceptions import InvalidInputError


def _resamples(n: int, n_bootstrap: int = 1000, seed: int = 0) -> np.ndarray:
    assert significance.RESAMPLING == 1
    return np.random.default_rng(seed).integers(0, n, size=(n_bootstrap, n))


def _bootstrap_p(observed: float, diffs: np.ndarray) -> float:
    """The two-sided normal-approximation p-value of a paired difference, by hand."""
    return 2 * norm.sf(abs(observed) / np.std(diffs[np.isfinite(diffs)], ddof=1))


def _holm2(p1: float, p2: float) -> tuple[float, float]:
    """Holm's step-down adjustment of two p-values, written out."""
    lo, hi = sorted((p1, p2))
    adj_lo = min(1.0, 2 * lo)
    adj_hi = max(adj_lo, min(1.0, hi))
    return (adj_lo, adj_hi) if p1 <= p2 else (adj_hi, adj_lo)


@pytest.fixture(scope="module")
def three_classifiers():
    """Three binary classifiers of decreasing quality on 200 rows (seeded)."""
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, size=200)
    preds = {}
    for name, noise in (("good", 0.35), ("fair", 0.6), ("poor", 0.9)):
        score = np.clip(0.5 + (y - 0.5) * 0.6 + rng.normal(scale=noise, size=200) * 0.5, 0, 1)
        preds[name] = {"y_pred": (score > 0.5).astype(int), "y_score": np.c_[1 - score, score], "classes": [0, 1]}
    return y, preds


@pytest.fixture(scope="module")
def three_regressors():
    rng = np.random.default_rng(12)
    y = rng.normal(size=150)
    preds = {name: {"y_pred": y + rng.normal(scale=scale, size=150)}
             for name, scale in (("tight", 0.3), ("loose", 0.6), ("wild", 1.0))}
    return y, preds


# -- McNemar, Holm, corrected t-test -----------------------------------------------------------------

def test_mcnemar_textbook_value_and_balanced_discordance():
    # 1 row only a gets right, 9 only b: p = 2 * (C(10,0) + C(10,1)) / 2**10 = 22 / 1024
    a = np.array([True] * 1 + [False] * 9 + [True] * 5 + [False] * 3)
    b = np.array([False] * 1 + [True] * 9 + [True] * 5 + [False] * 3)
    assert mcnemar_exact(a, b) == pytest.approx(22 / 1024, rel=1e-12)
    assert mcnemar_exact(b, a) == pytest.approx(22 / 1024, rel=1e-12)
    # as many rows each way: no evidence at all
    assert mcnemar_exact(np.array([True, False, True]), np.array([False, True, True])) == 1.0


def test_holm_caps_adjusted_p_values_at_one():
    # 0.7 * 2 = 1.4 is capped at 1, and the step-down keeps the larger one at 1 too
    assert holm([0.7, 0.8]) == [1.0, 1.0]
    assert holm([0.3, 0.6, 0.01]) == pytest.approx([0.6, 0.6, 0.03])
    assert holm([0.9, 0.4, 0.2]) == pytest.approx([0.9, 0.8, 0.6])


def test_holm_returns_floats_for_integer_input():
    adjusted = holm([0, 1])
    assert adjusted == [0.0, 1.0] and all(isinstance(p, float) for p in adjusted)


def test_corrected_ttest_on_two_folds_equals_the_hand_computation():
    a, b = np.array([0.80, 0.90]), np.array([0.70, 0.85])
    d = a - b
    n_train, n_test = 50, 50
    t = d.mean() / np.sqrt((1 / 2 + n_test / n_train) * d.var(ddof=1))
    assert corrected_ttest(a, b, n_train, n_test) == pytest.approx(2 * student_t.sf(abs(t), 1), rel=1e-12)


def test_corrected_ttest_refuses_a_single_fold_with_its_message():
    with pytest.raises(InvalidInputError, match=r"^The corrected t-test needs the scores of at least 2 folds\.$"):
        corrected_ttest([0.9], [0.8], 90, 10)


def test_corrected_ttest_of_a_constant_nonzero_difference_is_zero():
    # exact binary fractions: every fold differs by exactly 0.25, the variance is 0 and t is infinite
    a, b = [0.75, 0.5, 0.25], [0.5, 0.25, 0.0]
    assert corrected_ttest(a, b, 200, 100) == 0.0
    assert corrected_ttest(b, a, 200, 100) == 0.0


def test_corrected_ttest_takes_the_fold_scores_as_floats():
    """Fold scores as Decimals (as a database NUMERIC column returns them) are tested as their floats."""
    a = [Decimal("0.81"), Decimal("0.84"), Decimal("0.79"), Decimal("0.86"), Decimal("0.83")]
    b = [Decimal("0.78"), Decimal("0.80"), Decimal("0.80"), Decimal("0.82"), Decimal("0.79")]
    d = np.array([float(s) for s in a]) - np.array([float(s) for s in b])
    t = d.mean() / np.sqrt((1 / 5 + 20 / 80) * d.var(ddof=1))  # Nadeau & Bengio, 5 folds of 80 / 20 rows
    assert corrected_ttest(a, b, 80, 20) == pytest.approx(2 * student_t.sf(abs(t), 4), rel=1e-12)


# -- per-resample metrics -----------------------------------------------------------------------------

@pytest.mark.parametrize("metric, func", [
    ("mse", skm.mean_squared_error),
    ("rmse", lambda y, p: np.sqrt(skm.mean_squared_error(y, p))),
    ("mae", skm.mean_absolute_error),
])
def test_regression_errors_on_each_resample_equal_scikit_learn(metric, func):
    rng = np.random.default_rng(21)
    y = rng.normal(size=40)
    pred = {"y_pred": y + rng.normal(scale=0.7, size=40)}
    indices = rng.integers(0, 40, size=(25, 40))
    got = resampling.resampled(metric, y, pred, indices)
    assert got.shape == (25,)
    assert got == pytest.approx([func(y[r], pred["y_pred"][r]) for r in indices], rel=1e-12)


def test_r2_of_a_resample_with_constant_targets_is_not_finite_and_silent():
    y = np.array([1.0, 1.0, 2.0, 3.0])
    pred = {"y_pred": np.array([1.0, 1.5, 2.0, 2.5])}
    indices = np.array([[0, 1, 0, 1],   # constant targets, errors > 0: x / 0
                        [0, 0, 0, 0],   # constant targets, no error: 0 / 0
                        [0, 2, 3, 1]])  # an ordinary resample
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = resampling.resampled("r2_score", y, pred, indices)
    assert not np.isfinite(got[0]) and not np.isfinite(got[1])
    assert got[2] == pytest.approx(skm.r2_score(y[indices[2]], pred["y_pred"][indices[2]]), rel=1e-12)


def test_weighted_precision_recall_f1_on_edge_resamples_equal_scikit_learn():
    y = np.array([0, 0, 1, 1, 2, 2, 3])
    pred = {"y_pred": np.array([0, 1, 1, 0, 2, 2, 0])}  # class 3 is never predicted
    indices = np.array([
        [0, 1, 2, 3, 4, 5, 6],  # class 3 has support 1 and is never predicted
        [0, 2, 4, 4, 4, 4, 4],  # classes 0 and 1: support 1, predicted once, right; class 3 absent
        [3, 3, 3, 6, 6, 1, 1],  # class 0 predicted 3 times but never right
    ])
    for metric, func in (("precision", skm.precision_score), ("recall", skm.recall_score),
                         ("f1_score", skm.f1_score)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = resampling.resampled(metric, y, pred, indices)
        expected = [func(y[r], pred["y_pred"][r], average="weighted", zero_division=0) for r in indices]
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-15), metric
    # and by hand, the second resample is perfect
    assert resampling.resampled("precision", y, pred, indices[1:2])[0] == 1.0
    assert resampling.resampled("recall", y, pred, indices[1:2])[0] == 1.0


def test_roc_auc_without_probabilities_is_nan_for_every_resample():
    y = np.array([0, 1, 0, 1, 1])
    indices = np.random.default_rng(0).integers(0, 5, size=(3, 5))
    got = resampling.resampled("roc_auc", y, {"y_pred": y}, indices)
    assert got.shape == (3,) and got.dtype == float and np.isnan(got).all()


def test_roc_auc_with_probabilities_but_no_classes_is_nan():
    y = np.array([0, 1, 0, 1, 1, 0])
    score = np.array([0.1, 0.8, 0.3, 0.7, 0.6, 0.2])
    indices = np.random.default_rng(1).integers(0, 6, size=(4, 6))
    got = resampling.resampled("roc_auc", y, {"y_pred": y, "y_score": np.c_[1 - score, score]}, indices)
    assert got.shape == (4,) and np.isnan(got).all()


def test_roc_auc_of_a_one_dimensional_score_equals_scikit_learn():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, size=60)
    score = np.clip(y * 0.3 + rng.random(60) * 0.8, 0, 1)
    indices = rng.integers(0, 60, size=(10, 60))
    got = resampling.resampled("roc_auc", y, {"y_pred": y, "y_score": score, "classes": [0, 1]}, indices)
    assert got == pytest.approx([skm.roc_auc_score(y[r], score[r]) for r in indices], rel=1e-12)


def test_roc_auc_of_a_resample_with_one_class_is_nan_and_silent():
    y = np.array([0, 1, 1, 0, 1])
    score = np.array([0.2, 0.9, 0.6, 0.4, 0.7])
    pred = {"y_pred": (score > 0.5).astype(int), "y_score": np.c_[1 - score, score], "classes": [0, 1]}
    indices = np.array([[1, 2, 4, 1, 2], [0, 1, 2, 3, 4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = resampling.resampled("roc_auc", y, pred, indices)
    assert np.isnan(got[0])
    assert got[1] == pytest.approx(skm.roc_auc_score(y, score), rel=1e-12)


def _three_class_problem(labels=("a", "b", "c")):
    rng = np.random.default_rng(4)
    codes = rng.choice(3, size=80, p=[0.6, 0.3, 0.1])  # unbalanced: weighted differs from macro
    logits = rng.normal(size=(80, 3)) + 1.5 * np.eye(3)[codes]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.asarray(labels)[codes]
    return y, proba


def test_multiclass_roc_auc_equals_scikit_learn_weighted_one_vs_rest():
    y, proba = _three_class_problem()
    pred = {"y_pred": np.asarray(["a", "b", "c"])[proba.argmax(axis=1)], "y_score": proba,
            "classes": ["a", "b", "c"]}
    rng = np.random.default_rng(5)
    indices = rng.integers(0, 80, size=(8, 80))
    without_c = np.flatnonzero(y != "c")
    indices[3] = without_c[rng.integers(0, without_c.size, size=80)]  # a resample lacking a class
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = resampling.resampled("roc_auc", y, pred, indices)
    expected = [skm.roc_auc_score(y[r], proba[r], multi_class="ovr", average="weighted", labels=["a", "b", "c"])
                if len(set(y[r])) == 3 else float("nan") for r in indices]
    assert np.isnan(got[3]) and np.isnan(expected[3])
    assert got == pytest.approx(expected, rel=1e-12, nan_ok=True)
    macro = skm.roc_auc_score(y[indices[0]], proba[indices[0]], multi_class="ovr", average="macro")
    assert got[0] != pytest.approx(macro, rel=1e-9)  # the weighting matters on these data


def test_multiclass_roc_auc_is_nan_when_the_classes_are_not_the_labels_of_y():
    y, proba = _three_class_problem()
    pred = {"y_pred": proba.argmax(axis=1), "y_score": proba, "classes": [0, 1, 2]}  # y holds "a", "b", "c"
    indices = np.random.default_rng(6).integers(0, 80, size=(3, 80))
    assert all(len(set(y[r])) == 3 for r in indices)
    assert np.isnan(resampling.resampled("roc_auc", y, pred, indices)).all()


# -- the bootstrap p-value ---------------------------------------------------------------------------

def test_bootstrap_p_is_the_normal_approximation_with_the_sample_standard_deviation():
    diffs = np.random.default_rng(7).normal(0.02, 0.015, size=500)
    assert significance._bootstrap_p(0.03, diffs) == pytest.approx(_bootstrap_p(0.03, diffs), rel=1e-12)
    assert significance._bootstrap_p(-0.03, diffs) == pytest.approx(_bootstrap_p(0.03, diffs), rel=1e-12)
    two = np.array([0.01, 0.03])  # two finite values are enough for a standard error
    assert significance._bootstrap_p(0.02, two) == pytest.approx(2 * norm.sf(0.02 / np.std(two, ddof=1)), rel=1e-12)
    with_nan = np.r_[diffs, np.nan, np.inf]
    assert significance._bootstrap_p(0.03, with_nan) == pytest.approx(_bootstrap_p(0.03, diffs), rel=1e-12)


def test_bootstrap_p_edge_cases():
    diffs = np.random.default_rng(8).normal(size=50)
    assert significance._bootstrap_p(0.0, diffs) == 1.0  # no observed difference
    assert significance._bootstrap_p(float("nan"), diffs) == 1.0
    assert significance._bootstrap_p(0.1, np.full(50, 0.1)) == 0.0  # every resample agrees: no spread
    assert np.full(50, 0.25).std(ddof=1) == 0.0  # (0.1's mean is off by rounding; a quarter's is exact)
    assert significance._bootstrap_p(0.25, np.full(50, 0.25)) == 0.0
    # fewer than two finite resampled differences: no standard error, so no p-value (never a certain 0.0),
    # and numpy is not asked for one
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(significance._bootstrap_p(0.1, np.array([0.1])))
        assert np.isnan(significance._bootstrap_p(0.1, np.array([0.2, np.nan])))
        assert np.isnan(significance._bootstrap_p(0.1, np.full(50, np.nan)))


def test_roc_auc_without_scores_is_not_called_significantly_different():
    y = np.array([0, 1] * 20)
    a, b = {"y_pred": y.copy()}, {"y_pred": 1 - y}  # no probabilities: no resampled ROC AUC
    [diff] = significance.paired_differences(y, a, b, {"roc_auc": 0.8}, {"roc_auc": 0.75}, ["roc_auc"])
    assert np.isnan(diff.p_value)  # was 0.0: "certainly different" without any evidence
    results, _ = significance.paired_comparison(y, {"a": a, "b": b}, "roc_auc", {"a": 0.8, "b": 0.75})
    assert results["a"].tied_with_best and results["b"].tied_with_best and np.isnan(results["b"].p_value)


# -- argument checks ---------------------------------------------------------------------------------

_ALPHA = r"^alpha must be between 0 and 1, got {}\.$"
_N_BOOTSTRAP = r"^n_bootstrap must be an integer of at least 100, got {}\.$"


def _call_comparison(y, preds, **options):
    return paired_comparison(y, preds, "accuracy", {m: float(np.mean(p["y_pred"] == y)) for m, p in preds.items()},
                             **options)


def _call_differences(y, preds, **options):
    a, b = preds["good"], preds["fair"]
    return paired_differences(y, a, b, {"accuracy": 0.8}, {"accuracy": 0.7}, ["accuracy"], **options)


@pytest.mark.parametrize("call", [_call_comparison, _call_differences])
def test_alpha_and_n_bootstrap_bounds_and_messages(call, three_classifiers):
    y, preds = three_classifiers
    for alpha, shown in ((0, "0"), (0.0, r"0\.0"), (1, "1"), (1.0, r"1\.0"), (1.5, r"1\.5"), (-0.1, r"-0\.1")):
        with pytest.raises(InvalidInputError, match=_ALPHA.format(shown)):
            call(y, preds, alpha=alpha)
    for n_bootstrap, shown in ((99, "99"), (50, "50"), (0, "0"), (150.0, r"150\.0"), (True, "True"),
                               ("200", "'200'")):
        with pytest.raises(InvalidInputError, match=_N_BOOTSTRAP.format(shown)):
            call(y, preds, n_bootstrap=n_bootstrap)
    call(y, preds, n_bootstrap=100, alpha=0.999)  # the smallest count allowed
    call(y, preds, n_bootstrap=100, alpha=1e-6)


def test_an_unsupported_metric_is_named_with_the_supported_ones(three_classifiers):
    y, preds = three_classifiers
    expected = ("No paired test for metric 'log_loss'; use one of accuracy, precision, recall, f1_score, "
                "roc_auc, r2_score, rmse, mae, mse.")
    with pytest.raises(InvalidInputError) as info:
        paired_comparison(y, preds, "log_loss", {"good": 0.1})
    assert str(info.value) == expected


# -- paired_comparison ------------------------------------------------------------------------------

def test_accuracy_bootstrap_uses_the_seeded_resamples_and_holm_adjusted_mcnemar(three_classifiers):
    y, preds = three_classifiers
    correct = {m: p["y_pred"] == y for m, p in preds.items()}
    values = {m: float(c.mean()) for m, c in correct.items()}
    assert max(values, key=values.get) == "good"
    boot: dict = {}
    results, test = paired_comparison(y, preds, "accuracy", values, bootstrap=boot)  # defaults: 1000, seed 0
    assert test == "exact McNemar"
    indices = _resamples(200)
    for m in preds:
        assert boot[m].shape == (1000,)
        assert boot[m] == pytest.approx(correct[m][indices].mean(axis=1), abs=1e-15)
        assert (results[m].ci_low, results[m].ci_high) == pytest.approx(
            tuple(np.percentile(correct[m][indices].mean(axis=1), [2.5, 97.5])), abs=1e-15)
        assert results[m].value == values[m]
    raw = [binomtest(int(np.sum(correct["good"] & ~correct[m])),
                     int(np.sum(correct["good"] != correct[m])), 0.5).pvalue for m in ("fair", "poor")]
    adjusted = _holm2(*raw)
    assert results["fair"].p_value == pytest.approx(adjusted[0], rel=1e-12)
    assert results["poor"].p_value == pytest.approx(adjusted[1], rel=1e-12)
    assert math.isnan(results["good"].p_value) and results["good"].tied_with_best
    for m, p in zip(("fair", "poor"), adjusted):
        assert results[m].tied_with_best is bool(p >= 0.05)


def test_a_model_exactly_at_alpha_is_tied_with_the_best(three_classifiers):
    y, preds = three_classifiers
    two = {m: preds[m] for m in ("good", "poor")}
    correct = {m: p["y_pred"] == y for m, p in two.items()}
    p = binomtest(int(np.sum(correct["good"] & ~correct["poor"])), int(np.sum(correct["good"] != correct["poor"])),
                  0.5).pvalue
    assert 0 < p < 1
    values = {m: float(c.mean()) for m, c in correct.items()}
    results, _ = paired_comparison(y, two, "accuracy", values, alpha=p, n_bootstrap=100)
    assert results["poor"].p_value == p and results["poor"].tied_with_best  # p >= alpha: not shown different
    results, _ = paired_comparison(y, two, "accuracy", values, alpha=min(0.999, p * 1.000001), n_bootstrap=100)
    assert not results["poor"].tied_with_best


def test_f1_p_values_are_holm_adjusted_bootstrap_p_values_of_the_paired_differences(three_classifiers):
    y, preds = three_classifiers
    values = {m: skm.f1_score(y, p["y_pred"], average="weighted") for m, p in preds.items()}
    boot: dict = {}
    results, test = paired_comparison(y, preds, "f1_score", values, n_bootstrap=400, random_state=3,
                                      bootstrap=boot)
    assert test == "paired bootstrap"
    indices = _resamples(200, 400, 3)
    for m in preds:
        expected = [skm.f1_score(y[r], preds[m]["y_pred"][r], average="weighted", zero_division=0) for r in indices]
        assert boot[m] == pytest.approx(expected, rel=1e-12)
    raw = [_bootstrap_p(values["good"] - values[m], boot["good"] - boot[m]) for m in ("fair", "poor")]
    adjusted = _holm2(*raw)
    assert results["fair"].p_value == pytest.approx(adjusted[0], rel=1e-9)
    assert results["poor"].p_value == pytest.approx(adjusted[1], rel=1e-9)


@pytest.mark.parametrize("alpha", [0.05, 0.2])
def test_lower_is_better_metrics_pick_the_smallest_error_with_percentile_intervals(three_regressors, alpha):
    y, preds = three_regressors
    values = {m: float(np.sqrt(skm.mean_squared_error(y, p["y_pred"]))) for m, p in preds.items()}
    assert min(values, key=values.get) == "tight"
    results, test = paired_comparison(y, preds, "rmse", values, alpha=alpha, n_bootstrap=300, random_state=5)
    assert test == "paired bootstrap"
    indices = _resamples(150, 300, 5)
    boot = {m: np.sqrt(((y - p["y_pred"]) ** 2)[indices].mean(axis=1)) for m, p in preds.items()}
    assert math.isnan(results["tight"].p_value) and results["tight"].tied_with_best
    raw = [_bootstrap_p(values["tight"] - values[m], boot["tight"] - boot[m]) for m in ("loose", "wild")]
    assert (results["loose"].p_value, results["wild"].p_value) == pytest.approx(_holm2(*raw), rel=1e-9)
    assert not results["wild"].tied_with_best
    for m in preds:
        low, high = np.percentile(boot[m], [100 * alpha / 2, 100 * (1 - alpha / 2)])
        assert results[m].ci_low == pytest.approx(low, rel=1e-12)
        assert results[m].ci_high == pytest.approx(high, rel=1e-12)


def test_a_model_without_a_value_is_left_out_of_the_test(three_classifiers):
    y, preds = three_classifiers
    no_proba = {"y_pred": preds["poor"]["y_pred"]}  # no probabilities: no ROC AUC
    both = {"good": preds["good"], "poor": no_proba, "fair": preds["fair"]}
    values = {m: skm.roc_auc_score(y, preds[m]["y_score"][:, 1]) for m in ("good", "fair")}
    for missing in (None, float("nan")):
        results, _ = paired_comparison(y, both, "roc_auc", {"poor": missing, **values}, n_bootstrap=200)
        poor = results["poor"]
        assert math.isnan(poor.value) and math.isnan(poor.p_value) and poor.tied_with_best is False
        assert math.isnan(poor.ci_low) and math.isnan(poor.ci_high)
        assert math.isnan(results["good"].p_value) and results["good"].tied_with_best  # the best of the rest
        boot = resampling.resampled("roc_auc", y, preds["good"], _resamples(200, 200))
        boot_fair = resampling.resampled("roc_auc", y, preds["fair"], _resamples(200, 200))
        # one other model: Holm leaves its p-value as it is
        assert results["fair"].p_value == pytest.approx(
            _bootstrap_p(values["good"] - values["fair"], boot - boot_fair), rel=1e-9)


def test_no_finite_value_gives_nan_results_and_no_test(three_classifiers):
    y, preds = three_classifiers
    results, test = paired_comparison(y, preds, "roc_auc", {"good": None, "fair": float("nan")})
    assert test == "none" and set(results) == set(preds)
    for result in results.values():
        assert isinstance(result, PairedResult)
        assert all(math.isnan(v) for v in (result.value, result.ci_low, result.ci_high, result.p_value))
        assert result.tied_with_best is False


def test_memory_chunks_do_not_change_the_resamples(three_classifiers, monkeypatch):
    y, preds = three_classifiers
    values = {m: float(np.mean(p["y_pred"] == y)) for m, p in preds.items()}
    expected = {m: (p["y_pred"] == y)[_resamples(200, 250, 9)].mean(axis=1) for m, p in preds.items()}
    monkeypatch.setattr(significance, "_CHUNK_CELLS", 200 * 7)  # chunks of 7 resamples, the last one of 5
    boot: dict = {}
    paired_comparison(y, preds, "accuracy", values, n_bootstrap=250, random_state=9, bootstrap=boot)
    for m in preds:
        assert boot[m] == pytest.approx(expected[m], abs=1e-15)
    diff, = paired_differences(y, preds["good"], preds["poor"], {"mae": 0.3}, {"mae": 0.5}, ["mae"],
                               n_bootstrap=250, random_state=9)
    indices = _resamples(200, 250, 9)
    by_hand = (np.abs(y - preds["poor"]["y_pred"])[indices].mean(axis=1)
               - np.abs(y - preds["good"]["y_pred"])[indices].mean(axis=1))
    assert (diff.ci_low, diff.ci_high) == pytest.approx(tuple(np.percentile(by_hand, [2.5, 97.5])), abs=1e-15)


def test_cached_bootstrap_values_are_used_and_new_ones_added(three_classifiers):
    y, preds = three_classifiers
    values = {m: float(np.mean(p["y_pred"] == y)) for m, p in preds.items()}
    fresh: dict = {}
    paired_comparison(y, preds, "accuracy", values, n_bootstrap=200, bootstrap=fresh)
    kept = {"good": [float(v) for v in fresh["good"]]}  # as read back from JSON: a list of floats
    results, _ = paired_comparison(y, preds, "accuracy", values, n_bootstrap=200, bootstrap=kept)
    assert set(kept) == set(preds) and kept["fair"] == pytest.approx(fresh["fair"])
    assert results["good"].ci_low == pytest.approx(np.percentile(fresh["good"], 2.5))


# -- paired_differences ----------------------------------------------------------------------------

def test_paired_differences_pinned_against_the_hand_computation(three_regressors):
    y, preds = three_regressors
    a, b = preds["tight"], preds["loose"]
    names = ("mae", "mse", "r2_score")
    funcs = {"mae": skm.mean_absolute_error, "mse": skm.mean_squared_error, "r2_score": skm.r2_score}
    values_a = {m: funcs[m](y, a["y_pred"]) for m in names}
    values_b = {m: funcs[m](y, b["y_pred"]) for m in names}
    # default n_bootstrap (1000) and random_state (0)
    out = paired_differences(y, a, b, values_a, values_b, list(names) + ["accuracy_unknown"], alpha=0.1)
    assert [d.metric for d in out] == list(names)
    indices = _resamples(150)
    for d in out:
        f = funcs[d.metric]
        diffs = np.array([f(y[r], b["y_pred"][r]) - f(y[r], a["y_pred"][r]) for r in indices])
        assert (d.a, d.b) == (values_a[d.metric], values_b[d.metric])
        assert d.difference == values_b[d.metric] - values_a[d.metric]
        assert d.ci_low == pytest.approx(np.percentile(diffs, 5), rel=1e-9)
        assert d.ci_high == pytest.approx(np.percentile(diffs, 95), rel=1e-9)
        assert d.p_value == pytest.approx(_bootstrap_p(d.difference, diffs), rel=1e-9)
        assert d.test == "paired bootstrap"


def test_paired_differences_accuracy_is_mcnemar_and_swapping_mirrors(three_classifiers):
    y, preds = three_classifiers
    a, b = preds["good"], preds["poor"]
    acc_a, acc_b = float(np.mean(a["y_pred"] == y)), float(np.mean(b["y_pred"] == y))
    d, = paired_differences(y, a, b, {"accuracy": acc_a}, {"accuracy": acc_b}, ["accuracy"], n_bootstrap=200)
    ca, cb = a["y_pred"] == y, b["y_pred"] == y
    assert d.test == "exact McNemar"
    assert d.p_value == pytest.approx(binomtest(int(np.sum(ca & ~cb)), int(np.sum(ca != cb)), 0.5).pvalue,
                                      rel=1e-12)
    r, = paired_differences(y, b, a, {"accuracy": acc_b}, {"accuracy": acc_a}, ["accuracy"], n_bootstrap=200)
    assert r.difference == -d.difference and r.p_value == d.p_value
    assert (r.ci_low, r.ci_high) == pytest.approx((-d.ci_high, -d.ci_low), abs=1e-15)


def test_paired_differences_without_resampled_values_has_no_interval(three_classifiers):
    y, preds = three_classifiers
    a, b = {"y_pred": preds["good"]["y_pred"]}, {"y_pred": preds["fair"]["y_pred"]}  # no probabilities
    d, = paired_differences(y, a, b, {"roc_auc": 0.75}, {"roc_auc": 0.75}, ["roc_auc"], n_bootstrap=100)
    assert (d.a, d.b, d.difference) == (0.75, 0.75, 0.0)
    assert math.isnan(d.ci_low) and math.isnan(d.ci_high) and d.p_value == 1.0
    none = paired_differences(y, a, b, {"roc_auc": None}, {"roc_auc": 0.75}, ["roc_auc"], n_bootstrap=100)
    assert none == []
