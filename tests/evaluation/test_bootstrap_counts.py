"""The bootstrap from resampling counts equals the bootstrap that gathers each model's rows by the indices.

`resampling.resampled` turns a chunk of resamples into counts (how many times each row is drawn)
and computes every metric from them. The reference below is the straightforward way it replaced:
gather the arrays of each resample by its indices and compute the metric on them. Integer-count
metrics (accuracy, precision, recall, F1, binary ROC AUC) must be bit-identical; the regression
errors and R² equal to rounding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from jupyter_modelservice.evaluation import resampling, significance
from jupyter_modelservice.evaluation.significance import paired_comparison, paired_differences

EXACT = ("accuracy", "precision", "recall", "f1_score", "roc_auc")
ROUNDED = ("mse", "rmse", "mae", "r2_score")


# -- the reference: gather by indices ---------------------------------------------------------------

def _reference(metric: str, y_true: np.ndarray, prediction: dict[str, Any], indices: Any) -> np.ndarray:
    """The metric of one model on each resample, from the rows gathered by the resample's indices."""
    indices = getattr(indices, "indices", indices)  # a chunk of `paired_comparison`, or the indices
    y_pred = np.asarray(prediction["y_pred"])
    if metric == "accuracy":
        return (y_pred == y_true)[indices].mean(axis=1)
    if metric in ROUNDED:
        residual = y_true.astype(float) - y_pred.astype(float)
        if metric == "mae":
            return np.abs(residual)[indices].mean(axis=1)
        sse = (residual ** 2)[indices].sum(axis=1)
        if metric == "mse":
            return sse / indices.shape[1]
        if metric == "rmse":
            return np.sqrt(sse / indices.shape[1])
        y = y_true.astype(float)[indices]
        sst = ((y - y.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1.0 - sse / sst
    if metric == "roc_auc":
        return _reference_auc(y_true, prediction, indices)
    labels, codes = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    k = labels.size
    pair = codes[: y_true.size] * k + codes[y_true.size:]
    cm = np.stack([np.bincount(pair[rows], minlength=k * k).reshape(k, k) for rows in indices]).astype(float)
    return resampling._weighted_from_confusions(metric, cm)


def _reference_auc(y_true: np.ndarray, prediction: dict[str, Any], indices: np.ndarray) -> np.ndarray:
    """Mann–Whitney on the gathered rows of each resample: wins of positives over negatives, ties count half."""
    proba = prediction.get("y_score")
    classes = list(prediction.get("classes") or [])
    if proba is None:
        return np.full(indices.shape[0], np.nan)
    proba = np.asarray(proba)
    if proba.ndim != 2 or proba.shape[1] != 2 or len(classes) != 2:
        return np.array([resampling.multiclass_auc(y_true[r], proba[r], classes) for r in indices])
    out = []
    for rows in indices:
        score, positive = proba[rows, 1], y_true[rows] == classes[1]
        pos, neg = np.sort(score[positive]), np.sort(score[~positive])
        if not pos.size or not neg.size:
            out.append(np.nan)
            continue
        below = np.searchsorted(neg, pos, side="left")
        tied = np.searchsorted(neg, pos, side="right") - below
        out.append((below.sum() + 0.5 * tied.sum()) / (pos.size * neg.size))
    return np.array(out)


def _assert_equal(metric: str, got: np.ndarray, expected: np.ndarray) -> None:
    assert got.shape == expected.shape and got.dtype == float
    if metric in EXACT:
        np.testing.assert_array_equal(got, expected, err_msg=metric)  # NaN where NaN, else bit for bit
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0, err_msg=metric)


# -- data ----------------------------------------------------------------------------------------------

def _binary(n: int = 300, seed: int = 0, labels=(0, 1)) -> tuple[np.ndarray, dict[str, dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2, size=n)
    y = np.asarray(labels)[codes]
    preds = {}
    for name, noise, digits in (("sharp", 0.3, None), ("rounded", 0.5, 1), ("clipped", 0.8, None)):
        score = np.clip(0.5 + (codes - 0.5) * 0.5 + rng.normal(scale=noise, size=n) * 0.5, 0, 1)
        if digits is not None:  # heavy ties between positives and negatives
            score = np.round(score, digits)
        preds[name] = {"y_pred": np.asarray(labels)[(score > 0.5).astype(int)], "y_score": np.c_[1 - score, score],
                       "classes": list(labels)}
    return y, preds


def _multiclass(n: int = 240, seed: int = 1, k: int = 4) -> tuple[np.ndarray, dict[str, dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    labels = np.array(["ant", "bee", "cat", "dog", "elk"][:k])
    codes = rng.choice(k, size=n, p=np.r_[0.5, np.full(k - 1, 0.5 / (k - 1))])
    preds = {}
    for name, strength in (("good", 2.0), ("weak", 0.5)):
        logits = rng.normal(size=(n, k)) + strength * np.eye(k)[codes]
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        preds[name] = {"y_pred": labels[proba.argmax(axis=1)], "y_score": proba, "classes": list(labels)}
    return labels[codes], preds


def _regression(n: int = 200, seed: int = 2) -> tuple[np.ndarray, dict[str, dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    y = 1000.0 + rng.normal(scale=3.0, size=n)  # an offset: R² must not lose its digits to it
    return y, {"close": {"y_pred": y + rng.normal(scale=0.5, size=n)},
               "far": {"y_pred": y + rng.normal(scale=2.0, size=n)}}


def _indices(n: int, resamples: int = 60, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


# -- per-resample values --------------------------------------------------------------------------------

@pytest.mark.parametrize("labels", [(0, 1), ("no", "yes")])
@pytest.mark.parametrize("metric", ["accuracy", "precision", "recall", "f1_score", "roc_auc"])
def test_binary_metrics_equal_the_gathered_rows_bit_for_bit(metric, labels):
    y, preds = _binary(labels=labels)
    indices = _indices(y.size)
    for prediction in preds.values():
        _assert_equal(metric, resampling.resampled(metric, y, prediction, indices),
                      _reference(metric, y, prediction, indices))


@pytest.mark.parametrize("pair_products", [0, 100])  # the confusions by sorted pairs, then by products
@pytest.mark.parametrize("metric", ["accuracy", "precision", "recall", "f1_score", "roc_auc"])
def test_multiclass_metrics_equal_the_gathered_rows(metric, pair_products, monkeypatch):
    monkeypatch.setattr(resampling, "_PAIR_PRODUCTS", pair_products)
    y, preds = _multiclass()
    indices = _indices(y.size, resamples=20)
    lacking = np.flatnonzero(y != "dog")
    indices[4] = lacking[np.random.default_rng(4).integers(0, lacking.size, size=y.size)]  # one class absent
    for prediction in preds.values():
        _assert_equal(metric, resampling.resampled(metric, y, prediction, indices),
                      _reference(metric, y, prediction, indices))


@pytest.mark.parametrize("metric", ROUNDED)
def test_regression_metrics_equal_the_gathered_rows_to_rounding(metric):
    y, preds = _regression()
    indices = _indices(y.size)
    for prediction in preds.values():
        _assert_equal(metric, resampling.resampled(metric, y, prediction, indices),
                      _reference(metric, y, prediction, indices))


def test_edge_resamples_give_the_same_nan_and_infinities():
    # binary: resamples holding one class only (ROC AUC NaN), all rows the same, tied scores across classes
    y = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    score = np.array([0.5, 0.5, 0.9, 0.1, 0.5, 0.9, 0.0, 1.0])
    pred = {"y_pred": (score >= 0.5).astype(int), "y_score": np.c_[1 - score, score], "classes": [0, 1]}
    indices = np.array([[1, 2, 4, 7, 1, 2, 4, 7],   # positives only
                        [0, 3, 5, 6, 0, 3, 5, 6],   # negatives only
                        [0, 0, 0, 0, 0, 0, 0, 0],   # one row
                        [0, 1, 4, 0, 1, 4, 5, 2],   # ties at 0.5 and 0.9 between the classes
                        np.arange(8)])
    for metric in EXACT:
        _assert_equal(metric, resampling.resampled(metric, y, pred, indices), _reference(metric, y, pred, indices))
    assert np.isnan(resampling.resampled("roc_auc", y, pred, indices)[:3]).all()
    # regression: constant targets, with and without errors (R² is -inf, then NaN, as before)
    target = np.array([1.0, 1.0, 2.0, 3.0])
    reg = {"y_pred": np.array([1.0, 1.5, 2.0, 2.5])}
    rows = np.array([[0, 1, 0, 1], [0, 0, 0, 0], [0, 2, 3, 1]])
    for metric in ROUNDED:
        _assert_equal(metric, resampling.resampled(metric, target, reg, rows), _reference(metric, target, reg, rows))
    r2 = resampling.resampled("r2_score", target, reg, rows)
    assert r2[0] == -np.inf and np.isnan(r2[1]) and np.isfinite(r2[2])


def test_scores_that_are_not_finite_keep_the_first_version_loop():
    y, preds = _binary(n=50, seed=5)
    score = preds["sharp"]["y_score"][:, 1].copy()
    score[[3, 8, 20]] = np.nan
    score[[5, 9]] = np.inf
    pred = {**preds["sharp"], "y_score": np.c_[1 - score, score]}
    indices = _indices(50, resamples=10)
    expected = resampling._auc_loop(y == 1, score, indices)
    np.testing.assert_array_equal(resampling.resampled("roc_auc", y, pred, indices), expected)
    # the loop and the counts agree wherever the scores are finite
    finite = preds["sharp"]
    np.testing.assert_array_equal(resampling._auc_loop(y == 1, finite["y_score"][:, 1], indices),
                                  resampling.resampled("roc_auc", y, finite, indices))


def test_a_shared_chunk_gives_every_model_and_metric_its_own_values():
    # what `paired_comparison` does: one chunk of resamples, its counts and its cache shared by all
    y, preds = _binary(seed=6)
    cache: dict = {}
    for indices in (_indices(y.size, 7, seed=7), _indices(y.size, 7, seed=8), _indices(y.size, 3, seed=9)):
        chunk = resampling.Resamples(indices, cache)
        for metric in EXACT + ROUNDED:
            for prediction in preds.values():
                pred = {**prediction, "y_pred": prediction["y_pred"].astype(float)} if metric in ROUNDED \
                    else prediction
                _assert_equal(metric, resampling.resampled(metric, y, pred, chunk),
                              _reference(metric, y, pred, indices))


# -- the comparisons -------------------------------------------------------------------------------------

def _values(metric: str, y: np.ndarray, preds: dict[str, dict[str, Any]]) -> dict[str, float]:
    everything = np.arange(y.size)[None, :]
    return {m: float(_reference(metric, y, p, everything)[0]) for m, p in preds.items()}


@pytest.mark.parametrize("data, metric", [
    ("binary", "accuracy"), ("binary", "f1_score"), ("binary", "roc_auc"), ("binary", "precision"),
    ("multiclass", "recall"), ("multiclass", "roc_auc"),
    ("regression", "mae"), ("regression", "rmse"), ("regression", "r2_score"), ("regression", "mse"),
])
def test_paired_comparison_equals_the_gather_path(data, metric, monkeypatch):
    y, preds = {"binary": _binary, "multiclass": _multiclass, "regression": _regression}[data]()
    values = _values(metric, y, preds)
    monkeypatch.setattr(significance, "_CHUNK_CELLS", y.size * 45)  # chunks of 45 resamples, the last of 20
    boot: dict = {}
    got, test = paired_comparison(y, preds, metric, values, n_bootstrap=200, random_state=5, bootstrap=boot)
    monkeypatch.setattr(resampling, "resampled", _reference)
    ref_boot: dict = {}
    expected, ref_test = paired_comparison(y, preds, metric, values, n_bootstrap=200, random_state=5,
                                           bootstrap=ref_boot)
    assert test == ref_test and set(got) == set(expected)
    for m in preds:
        _assert_equal(metric, boot[m], ref_boot[m])
        if metric in EXACT:
            assert got[m] == expected[m] or (np.isnan(got[m].p_value) and np.isnan(expected[m].p_value)
                                             and got[m].tied_with_best == expected[m].tied_with_best
                                             and (got[m].ci_low, got[m].ci_high) == (expected[m].ci_low,
                                                                                     expected[m].ci_high))
        else:
            assert (got[m].ci_low, got[m].ci_high) == pytest.approx((expected[m].ci_low, expected[m].ci_high),
                                                                    rel=1e-12)
            assert got[m].p_value == pytest.approx(expected[m].p_value, rel=1e-9, nan_ok=True)
            assert got[m].tied_with_best == expected[m].tied_with_best


def test_paired_differences_equal_the_gather_path(monkeypatch):
    y, preds = _binary(seed=10)
    metrics = ["accuracy", "precision", "recall", "f1_score", "roc_auc", "mae"]
    a, b = preds["sharp"], preds["clipped"]
    values_a, values_b = ({m: _values(m, y, {"x": p})["x"] for m in metrics} for p in (a, b))
    monkeypatch.setattr(significance, "_CHUNK_CELLS", y.size * 70)
    got = paired_differences(y, a, b, values_a, values_b, metrics, n_bootstrap=150, random_state=11)
    monkeypatch.setattr(resampling, "resampled", _reference)
    expected = paired_differences(y, a, b, values_a, values_b, metrics, n_bootstrap=150, random_state=11)
    assert [d.metric for d in got] == [d.metric for d in expected] == metrics
    for g, e in zip(got, expected):
        if g.metric in EXACT:
            assert g == e
        else:
            assert (g.ci_low, g.ci_high, g.p_value) == pytest.approx((e.ci_low, e.ci_high, e.p_value), rel=1e-9)


@pytest.mark.parametrize("label", [0, 1])
def test_targets_of_one_class_give_nan_roc_auc_as_the_reference(label):
    y = np.full(12, label)
    score = np.linspace(0, 1, 12)
    pred = {"y_pred": (score > 0.5).astype(int), "y_score": np.c_[1 - score, score], "classes": [0, 1]}
    indices = _indices(12, resamples=5)
    for metric in EXACT:
        _assert_equal(metric, resampling.resampled(metric, y, pred, indices), _reference(metric, y, pred, indices))
    assert np.isnan(resampling.resampled("roc_auc", y, pred, indices)).all()


@pytest.mark.parametrize("repeats", [255, 256, 300])
def test_roc_auc_with_a_row_drawn_more_than_a_byte_holds_equals_the_reference(repeats):
    """Counts of 256 and more do not fit the narrow (uint8) counts the ROC AUC gathers: the wide ones serve."""
    rng = np.random.default_rng(7)
    n = 400
    y = rng.integers(0, 2, size=n)
    score = np.round(rng.random(n), 2)  # ties too
    prediction = {"y_pred": (score > 0.5).astype(int), "y_score": np.c_[1 - score, score], "classes": [0, 1]}
    indices = rng.integers(0, n, size=(3, n))
    indices[:, :repeats] = np.flatnonzero(y == 1)[0]  # one positive row drawn `repeats` times in each resample
    chunk = resampling.Resamples(indices)
    assert chunk.counts.max() >= repeats and (chunk.narrow_counts.dtype == np.uint8) == (chunk.counts.max() < 256)
    _assert_equal("roc_auc", resampling.resampled("roc_auc", y, prediction, chunk),
                  _reference("roc_auc", y, prediction, indices))
