"""The bootstrap ROC AUC of `resampling.resampled` pinned against scikit-learn on the gathered rows.

Scores that are not all finite numbers, or not held in a number dtype, take the loop over resamples
(`resampling._auc_loop`): an infinity ranks beyond every number, a NaN above everything, each
non-finite score its own rank in row order (a stable sort). ROC AUC depends on the order of the
scores only, so scikit-learn, which refuses them, gets finite stand-ins of that order.
"""

from __future__ import annotations

import warnings
from decimal import Decimal

import numpy as np
import pytest
from sklearn import metrics as skm

from jupyter_modelservice.evaluation import resampling


def _prediction(score: np.ndarray) -> dict:
    return {"y_pred": (score > 0.5).astype(int), "y_score": np.c_[1 - score, score], "classes": [0, 1]}


def _ranked(score: np.ndarray) -> np.ndarray:
    """Finite stand-ins for scores in [0, 1] in the loop's order: -inf, the numbers, +inf, NaN; each non-finite
    score its own rank, in row order."""
    score = score.astype(float)
    rank = np.empty(score.size)
    rank[np.argsort(score, kind="stable")] = np.arange(score.size)
    return np.where(np.isfinite(score), score, np.where(np.isneginf(score), -2.0, 2.0) + rank / score.size)


def test_roc_auc_of_scores_that_are_not_finite_equals_scikit_learn_on_their_order():
    rng = np.random.default_rng(8)
    n = 60
    y = rng.integers(0, 2, size=n)
    score = np.round(np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1), 1)  # ties within and across the classes
    nan_rows = np.arange(2, n, 5)
    score[nan_rows] = np.nan
    score[[3, 8]] = np.inf, -np.inf
    assert set(y[nan_rows]) == {0, 1}  # the order of the NaNs matters
    indices = rng.integers(0, n, size=(20, n))
    got = resampling.resampled("roc_auc", y, _prediction(score), indices)
    expected = [skm.roc_auc_score(y[rows], _ranked(score)[rows]) for rows in indices]
    assert got == pytest.approx(expected, rel=1e-12)


def test_roc_auc_of_scores_that_are_not_finite_is_silent_and_nan_on_a_resample_of_one_class():
    y = np.array([0, 1, 1, 0, 1, 0])
    score = np.array([0.2, np.inf, np.inf, 0.4, 0.7, np.nan])  # inf - inf: no "invalid value" warning
    indices = np.array([[1, 2, 4, 1, 2, 4], [0, 1, 2, 3, 4, 5]])  # positives only, then every row
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = resampling.resampled("roc_auc", y, _prediction(score), indices)
    assert np.isnan(got[0])
    assert got[1] == pytest.approx(skm.roc_auc_score(y, _ranked(score)), rel=1e-12) == 2 / 3


def test_roc_auc_of_scores_held_as_objects_takes_the_loop_as_floats_do():
    """An object array is not a number dtype: the loop, where equal infinities rank apart across the classes."""
    y = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    score = np.array([np.inf, np.inf, 0.3, 0.3, -np.inf, -np.inf, 0.8, 0.1])
    indices = np.random.default_rng(10).integers(0, y.size, size=(20, y.size))
    expected = [skm.roc_auc_score(y[rows], _ranked(score)[rows]) for rows in indices]
    for held in (score, score.astype(object)):
        assert resampling.resampled("roc_auc", y, _prediction(held), indices) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("metric", ["precision", "recall", "f1_score"])
def test_a_class_absent_from_a_resample_weighs_zero_whatever_memory_numpy_reuses(metric):
    """scikit-learn's weighted average with zero_division=0, also when the freed arrays numpy hands out hold NaN."""
    y = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    y_pred = np.array([0, 1, 2, 0, 0, 1, 2, 1])  # class 2 is never true, and predicted for two rows only
    indices = np.random.default_rng(11).integers(0, y.size, size=(5, y.size))
    indices[0] = [0, 1, 3, 4, 5, 7, 0, 1]  # class 2 neither true nor predicted
    score = getattr(skm, metric if metric == "f1_score" else f"{metric}_score")
    expected = [score(y[rows], y_pred[rows], average="weighted", zero_division=0) for rows in indices]
    freed = [np.full((indices.shape[0], 3), np.nan) for _ in range(8)]  # (resamples, classes) float64 blocks
    del freed
    assert resampling.resampled(metric, y, {"y_pred": y_pred}, indices) == pytest.approx(expected, rel=1e-12)


def test_chunks_sharing_a_cache_keep_byte_and_int32_count_buffers_apart():
    """A chunk whose counts fit a byte, then one of the same shape with a row drawn 300 times."""
    rng = np.random.default_rng(9)
    n = 400
    y = rng.integers(0, 2, size=n)
    prediction = _prediction(np.round(rng.random(n), 2))
    narrow = rng.integers(0, n, size=(3, n))
    wide = rng.integers(0, n, size=(3, n))
    wide[:, :300] = np.flatnonzero(y == 1)[0]
    assert resampling.Resamples(wide).narrow_counts.dtype == np.int32
    cache: dict = {}
    for indices in (narrow, wide, narrow):
        got = resampling.resampled("roc_auc", y, prediction, resampling.Resamples(indices, cache))
        expected = [skm.roc_auc_score(y[rows], prediction["y_score"][rows, 1]) for rows in indices]
        assert got == pytest.approx(expected, rel=1e-12)


def test_sums_take_the_values_as_float64_whatever_their_type():
    """``Σ_i counts[b, i] · values[i]`` on float64 values: Decimals (an object array) give float64 sums."""
    indices = np.array([[0, 0, 2, 3], [1, 1, 1, 3]])
    values = np.array([Decimal("0.5"), Decimal("1.25"), Decimal("-2"), Decimal("4")], dtype=object)
    got = resampling.Resamples(indices).sums(values)
    assert got.dtype == np.float64
    assert got.tolist() == [0.5 + 0.5 - 2 + 4, 3 * 1.25 + 4]  # rows 0, 0, 2, 3 and rows 1, 1, 1, 3


def test_roc_auc_of_one_positive_and_one_negative_is_defined():
    y, score = np.array([0, 1]), np.array([0.2, 0.7])
    indices = np.array([[0, 1], [1, 0], [0, 0], [1, 1]])
    got = resampling.resampled("roc_auc", y, _prediction(score), indices)
    assert got.tolist()[:2] == [1.0, 1.0] and np.isnan(got[2:]).all()


def _past_int32(ties: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores whose pair counts pass the int32 range: 2 × 35,000² pair halves, or 24,000 positives
    tied with 90,000 negatives (taken one positive at a time when a quarter or fewer of the positives tie)."""
    rng = np.random.default_rng(12)
    if ties == "few positives tied with many negatives":
        y = np.repeat([0, 1], 100_000)
        score = rng.uniform(0, 1, y.size)
        score[10_000:100_000] = score[100_000:124_000] = 0.5
        return y, score
    y = np.repeat([0, 1], 35_000)
    score = 0.35 * y + rng.uniform(0, 0.65, y.size)
    return y, (score.round(2) if ties == "rounded" else score)


@pytest.mark.parametrize("ties", ["rounded", "none", "few positives tied with many negatives"])
def test_roc_auc_counts_pairs_past_the_int32_range(ties):
    y, score = _past_int32(ties)
    rng = np.random.default_rng(13)
    indices = np.vstack([np.arange(y.size), rng.integers(0, y.size, size=(2, y.size))])
    expected = [skm.roc_auc_score(y[rows], score[rows]) for rows in indices]
    assert resampling.resampled("roc_auc", y, _prediction(score), indices) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("classes", [["a", "b", "c"], ["c", "a", "b"]])
def test_multiclass_roc_auc_reads_the_columns_in_the_order_of_the_classes(classes):
    rng = np.random.default_rng(15)
    y = rng.choice(["a", "b", "c"], size=90, p=[0.5, 0.3, 0.2])
    proba = rng.dirichlet([1, 1, 1], size=y.size) + (y[:, None] == np.array(["a", "b", "c"])) * 0.5
    proba /= proba.sum(axis=1, keepdims=True)  # columns a, b, c
    indices = rng.integers(0, y.size, size=(4, y.size))
    expected = [skm.roc_auc_score(y[rows], proba[rows], multi_class="ovr", average="weighted") for rows in indices]
    given = proba[:, ["abc".index(c) for c in classes]]
    got = resampling.resampled("roc_auc", y, {"y_pred": y, "y_score": given, "classes": classes}, indices)
    assert got == pytest.approx(expected, rel=1e-12)
