"""`paired_differences` (b − a per metric) and bootstrap values handed to `paired_comparison`."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from jupyter_modelservice.evaluation import resampling
from jupyter_modelservice.evaluation.significance import mcnemar_exact, paired_comparison, paired_differences


def _two(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    score_a = np.clip(y * 0.5 + rng.random(n) * 0.6, 0, 1)
    score_b = np.clip(y * 0.3 + rng.random(n) * 0.8, 0, 1)
    preds = [{"y_pred": (s > 0.5).astype(int), "y_score": np.c_[1 - s, s], "classes": [0, 1]}
             for s in (score_a, score_b)]
    values = [{"accuracy": float(np.mean(p["y_pred"] == y)),
               "f1_score": f1_score(y, p["y_pred"], average="weighted"), "roc_auc": None} for p in preds]
    return y, preds, values


def test_differences_are_b_minus_a_on_shared_resamples():
    y, (a, b), (va, vb) = _two()
    out = paired_differences(y, a, b, va, vb, ["accuracy", "f1_score", "roc_auc", "rmse"], n_bootstrap=400,
                             random_state=1)
    assert [d.metric for d in out] == ["accuracy", "f1_score"]  # no ROC AUC value, rmse not of the task
    accuracy, f1 = out
    assert accuracy.difference == pytest.approx(vb["accuracy"] - va["accuracy"])
    assert accuracy.p_value == mcnemar_exact(a["y_pred"] == y, b["y_pred"] == y) and accuracy.test == "exact McNemar"
    rng = np.random.default_rng(1)  # the same resamples, drawn by hand
    indices = rng.integers(0, y.size, size=(400, y.size))
    by_hand = np.array([f1_score(y[r], b["y_pred"][r], average="weighted")
                        - f1_score(y[r], a["y_pred"][r], average="weighted") for r in indices])
    assert (f1.ci_low, f1.ci_high) == pytest.approx((np.percentile(by_hand, 2.5), np.percentile(by_hand, 97.5)))
    assert f1.ci_low < f1.difference < f1.ci_high and f1.test == "paired bootstrap"


def test_identical_models_differ_by_nothing():
    y, (a, _), (va, _) = _two()
    [accuracy] = paired_differences(y, a, dict(a), va, dict(va), ["accuracy"])
    assert accuracy.difference == 0 and accuracy.p_value == 1.0 and accuracy.ci_low == accuracy.ci_high == 0


def test_bootstrap_values_given_are_used_and_new_ones_returned(monkeypatch):
    y, (a, b), (va, vb) = _two()
    values = {"a": va["f1_score"], "b": vb["f1_score"]}
    kept: dict = {}
    first, _ = paired_comparison(y, {"a": a, "b": b}, "f1_score", values, n_bootstrap=200, bootstrap=kept)
    assert set(kept) == {"a", "b"} and kept["a"].shape == (200,)
    monkeypatch.setattr(resampling, "resampled", lambda *args: pytest.fail("resampled again"))
    again, _ = paired_comparison(y, {"a": a, "b": b}, "f1_score", values, n_bootstrap=200, bootstrap=dict(kept))
    assert repr(again) == repr(first)  # exact floats; NaN p-value of the best
    monkeypatch.undo()
    partly, _ = paired_comparison(y, {"a": a, "b": b}, "f1_score", values, n_bootstrap=200,
                                  bootstrap={"a": kept["a"]})  # b resampled with the same resamples
    assert repr(partly) == repr(first)
    wrong_size, _ = paired_comparison(y, {"a": a, "b": b}, "f1_score", values, n_bootstrap=200,
                                      bootstrap={"a": kept["a"][:10]})  # ignored: not 200 values
    assert repr(wrong_size) == repr(first)
