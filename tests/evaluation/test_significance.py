"""Paired statistics of a comparison, checked against scipy / scikit-learn computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest
from scipy.stats import t as student_t
from sklearn.metrics import r2_score, roc_auc_score

from jupyter_modelservice.evaluation import resampling
from jupyter_modelservice.evaluation.significance import corrected_ttest, holm, mcnemar_exact, paired_comparison


def test_mcnemar_equals_binomtest_on_the_discordant_rows():
    rng = np.random.default_rng(3)
    a, b = rng.random(300) < 0.8, rng.random(300) < 0.7
    a_only, b_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
    assert a_only and b_only
    assert mcnemar_exact(a, b) == pytest.approx(binomtest(a_only, a_only + b_only, 0.5).pvalue, rel=1e-12)
    assert mcnemar_exact(a, a) == 1.0


def test_holm_matches_the_textbook_example():
    # p-values 0.01, 0.04, 0.03, 0.005 (m = 4): sorted 0.005*4, 0.01*3, 0.03*2, 0.04*1 -> 0.02, 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = holm([float("nan"), 0.2])
    assert np.isnan(adjusted[0]) and adjusted[1] == pytest.approx(0.2)


def test_corrected_ttest_equals_the_hand_computation():
    a = np.array([0.91, 0.93, 0.90, 0.95, 0.92])
    b = np.array([0.89, 0.92, 0.90, 0.91, 0.90])
    d = a - b
    k, n_train, n_test = 5, 400, 100
    t = d.mean() / np.sqrt((1 / k + n_test / n_train) * d.var(ddof=1))
    assert corrected_ttest(a, b, n_train, n_test) == pytest.approx(2 * student_t.sf(abs(t), k - 1), rel=1e-12)
    assert corrected_ttest(a, a, n_train, n_test) == 1.0


def _forest_and_dummy(n=500):
    from sklearn.datasets import make_classification
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    X, y = make_classification(n_samples=n * 2, n_features=8, n_informative=5, random_state=0)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.5, random_state=0)
    preds = {}
    for name, est in (("forest", RandomForestClassifier(n_estimators=50, random_state=0)),
                      ("dummy", DummyClassifier(strategy="most_frequent"))):
        est.fit(X_tr, y_tr)
        preds[name] = {"y_pred": est.predict(X_te), "y_score": est.predict_proba(X_te), "classes": list(est.classes_)}
    return y_te, preds


@pytest.mark.parametrize("metric", ["accuracy", "roc_auc", "f1_score"])
def test_a_forest_beats_a_dummy_significantly(metric):
    y, preds = _forest_and_dummy()
    from sklearn import metrics

    values = {"accuracy": lambda p: metrics.accuracy_score(y, p["y_pred"]),
              "roc_auc": lambda p: roc_auc_score(y, p["y_score"][:, 1]),
              "f1_score": lambda p: metrics.f1_score(y, p["y_pred"], average="weighted")}[metric]
    results, test = paired_comparison(y, preds, metric, {m: values(p) for m, p in preds.items()},
                                      n_bootstrap=1000)
    assert results["dummy"].p_value < 0.001 and not results["dummy"].tied_with_best
    assert np.isnan(results["forest"].p_value) and results["forest"].tied_with_best
    assert test == ("exact McNemar" if metric == "accuracy" else "paired bootstrap")
    assert results["forest"].ci_low <= results["forest"].value <= results["forest"].ci_high


@pytest.mark.parametrize("metric", ["accuracy", "roc_auc", "r2_score"])
def test_two_copies_of_one_model_are_tied_with_p_1(metric):
    rng = np.random.default_rng(1)
    if metric == "r2_score":
        y = rng.normal(size=200)
        pred = {"y_pred": y + rng.normal(scale=0.5, size=200)}
        value = r2_score(y, pred["y_pred"])
    else:
        y = rng.integers(0, 2, size=200)
        score = np.clip(y * 0.6 + rng.random(200) * 0.5, 0, 1)
        pred = {"y_pred": (score > 0.5).astype(int), "y_score": np.c_[1 - score, score], "classes": [0, 1]}
        value = float(np.mean(pred["y_pred"] == y)) if metric == "accuracy" else roc_auc_score(y, score)
    results, _ = paired_comparison(y, {"a": pred, "b": dict(pred)}, metric, {"a": value, "b": value})
    assert results["b"].p_value == 1.0 and results["b"].tied_with_best
    assert (results["a"].ci_low, results["a"].ci_high) == (results["b"].ci_low, results["b"].ci_high)


def test_resampled_metrics_equal_scikit_learn_on_the_same_resamples():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, size=120)
    score = np.round(np.clip(y * 0.3 + rng.random(120) * 0.8, 0, 1), 1)  # rounded: many ties
    pred = {"y_pred": (score > 0.5).astype(int), "y_score": np.c_[1 - score, score], "classes": [0, 1]}
    indices = rng.integers(0, 120, size=(20, 120))
    auc = resampling.resampled("roc_auc", y, pred, indices)
    assert auc == pytest.approx([roc_auc_score(y[r], score[r]) for r in indices], rel=1e-12)
    from sklearn.metrics import f1_score, precision_score, recall_score

    y3 = rng.integers(0, 3, size=120)
    p3 = {"y_pred": np.where(rng.random(120) < 0.6, y3, rng.integers(0, 4, size=120))}  # a class y lacks
    for name, func in (("precision", precision_score), ("recall", recall_score), ("f1_score", f1_score)):
        got = resampling.resampled(name, y3, p3, indices)
        expected = [func(y3[r], p3["y_pred"][r], average="weighted", zero_division=0) for r in indices]
        assert got == pytest.approx(expected, rel=1e-12), name
    acc = resampling.resampled("accuracy", y, pred, indices)
    assert acc == pytest.approx([np.mean(pred["y_pred"][r] == y[r]) for r in indices])
    yr = rng.normal(size=120)
    reg = {"y_pred": yr + rng.normal(size=120)}
    r2 = resampling.resampled("r2_score", yr, reg, indices)
    assert r2 == pytest.approx([r2_score(yr[r], reg["y_pred"][r]) for r in indices], rel=1e-10)


def test_the_bootstrap_is_seeded():
    y, preds = _forest_and_dummy(200)
    values = {m: float(np.mean(p["y_pred"] == y)) for m, p in preds.items()}
    def intervals(seed):
        results = paired_comparison(y, preds, "accuracy", values, random_state=seed)[0]
        return [(r.ci_low, r.ci_high) for r in results.values()]

    assert intervals(7) == intervals(7)
    assert intervals(7) != intervals(8)


def test_bad_arguments_are_refused():
    y, preds = _forest_and_dummy(100)
    with pytest.raises(ValueError, match="metric"):
        paired_comparison(y, preds, "log_loss", {"forest": 1.0, "dummy": 0.5})
    with pytest.raises(ValueError, match="alpha"):
        paired_comparison(y, preds, "accuracy", {"forest": 1.0, "dummy": 0.5}, alpha=5)
    with pytest.raises(ValueError, match="n_bootstrap"):
        paired_comparison(y, preds, "accuracy", {"forest": 1.0, "dummy": 0.5}, n_bootstrap=10)
