"""The paired bootstrap's metric values: one metric of one model on every resample of a chunk.

`significance.paired_comparison` draws the resamples (a chunk at a time) and
turns each chunk into resampling counts once (`Resamples`: how many times each
row is drawn), shared by every model; `resampled` gives a model's metric on
every resample of the chunk as exact integer products and cumulative sums of
those counts (sorted cumulative counts for ROC AUC), with no Python loop per
resample except for multiclass ROC AUC.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..metric_names import REGRESSION_METRICS
from .metrics import weighted_ovr_auc

__all__ = ["Resamples", "multiclass_auc", "resampled"]



class Resamples:
    """One chunk of bootstrap resamples, shared by every model of a comparison.

    ``indices`` holds the resamples as drawn (one row each). From them, once per
    chunk, ``counts[b, i]`` is how many times row ``i`` is in resample ``b``; a
    metric summed over the rows of a resample is then a product with these
    counts, computed for each model without gathering its arrays by the indices.
    ``cache`` keeps what depends on a model's predictions only (label codes,
    score order) across the chunks of one comparison.
    """

    def __init__(self, indices: np.ndarray, cache: dict[Any, Any] | None = None) -> None:
        self.indices = indices
        self.size, self.n = indices.shape
        self.cache: dict[Any, Any] = {} if cache is None else cache
        self._counts: np.ndarray | None = None
        self._narrow_counts: np.ndarray | None = None
        self._float_counts: np.ndarray | None = None
        self._sst: np.ndarray | None = None

    @property
    def counts(self) -> np.ndarray:
        """``(resamples, n)`` int32 resampling counts, one ``bincount`` per resample (a row fits in cache)."""
        if self._counts is None:
            counts = np.empty((self.size, self.n), dtype=np.int32)  # a count is at most n < 2**31
            for b, rows in enumerate(self.indices):
                counts[b] = np.bincount(rows, minlength=self.n)
            self._counts = counts
        return self._counts

    @property
    def narrow_counts(self) -> np.ndarray:
        """The counts as uint8 when every count fits (it does but for tiny ``n``), else `counts`:
        gathering them by a model's score order moves a quarter of the bytes."""
        if self._narrow_counts is None:
            counts = self.counts
            self._narrow_counts = counts.astype(np.uint8) if counts.max(initial=0) < 256 else counts
        return self._narrow_counts

    @property
    def float_counts(self) -> np.ndarray:
        """The counts as float64 (exact), for matrix products."""
        if self._float_counts is None:
            self._float_counts = self.counts.astype(float)
        return self._float_counts

    def sums(self, values: np.ndarray) -> np.ndarray:
        """``Σ_i counts[b, i] · values[i]`` for each resample ``b`` (float64 values)."""
        return np.asarray(self.float_counts @ np.asarray(values, dtype=float))

    def tallies(self, flags: np.ndarray) -> np.ndarray:
        """``Σ_i counts[b, i] · flags[j, i]`` as ``(resamples, j)`` for 0/1 ``flags`` ``(j, n)``: exact int32."""
        return np.asarray(np.einsum("bi,ji->bj", self.counts, flags))  # at most n < 2**31: no overflow

    def buffer(self, name: str, shape: tuple[int, ...], dtype: Any = np.int32) -> np.ndarray:
        """A work array kept for the next models and chunks: a fresh one of this size costs page faults."""
        key = ("buffer", name, shape, np.dtype(dtype))
        if key not in self.cache:
            self.cache[key] = np.empty(shape, dtype=dtype)
        return np.asarray(self.cache[key])

    def sst(self, y_true: np.ndarray) -> np.ndarray:
        """Total sum of squares of the targets of each resample (two passes, about its own mean)."""
        if self._sst is None:
            y = y_true.astype(float)
            mean = self.sums(y) / self.n
            deviation = y[None, :] - mean[:, None]
            deviation *= deviation
            deviation *= self.float_counts
            self._sst = deviation.sum(axis=1)
        return self._sst


def resampled(metric: str, y_true: np.ndarray, prediction: Mapping[str, Any],
               indices: np.ndarray | Resamples) -> np.ndarray:
    """The metric of one model on each resample (rows of ``indices``), from the resampling counts.

    ``indices`` is either the resamples (one row each) or a `Resamples` chunk
    that the models of a comparison share. Accuracy, precision, recall, F1 and
    binary ROC AUC are computed from exact integer counts, so they equal the
    metric of the gathered rows bit for bit; the regression errors and R² to
    rounding. Multiclass ROC AUC loops over the resamples.
    """
    chunk = indices if isinstance(indices, Resamples) else Resamples(np.asarray(indices))
    n = chunk.n
    y_pred = np.asarray(prediction["y_pred"])
    if metric == "accuracy":
        return chunk.tallies((y_pred == y_true).astype(np.int32)[None, :])[:, 0] / n
    if metric in REGRESSION_METRICS:
        residual = y_true.astype(float) - y_pred.astype(float)
        if metric == "mae":
            return chunk.sums(np.abs(residual)) / n
        sse = chunk.sums(residual ** 2)
        if metric == "mse":
            return sse / n
        if metric == "rmse":
            return np.sqrt(sse / n)
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1.0 - sse / chunk.sst(y_true)
    if metric == "roc_auc":
        return _resampled_auc(y_true, prediction, chunk)
    return _weighted_from_confusions(metric, _confusions(y_true, prediction, chunk))


#: At most this many (true, predicted) pairs: the confusion matrices are matrix-vector products,
#: one per pair; beyond it, sums of the counts sorted by pair.
_PAIR_PRODUCTS = 8


def _confusions(y_true: np.ndarray, prediction: Mapping[str, Any], chunk: Resamples) -> np.ndarray:
    """The confusion matrix of every resample, ``(resamples, k, k)``: the counts summed by (true, predicted) pair."""
    key = ("confusions", id(prediction))
    if key not in chunk.cache:
        y_pred = np.asarray(prediction["y_pred"])
        labels, codes = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
        k = labels.size
        pair = codes[: y_true.size] * k + codes[y_true.size:]
        present = np.unique(pair)
        plan: tuple[Any, ...]
        if present.size <= _PAIR_PRODUCTS:
            plan = ("products", (pair[None, :] == present[:, None]).astype(np.int32))
        else:
            order = np.argsort(pair, kind="stable")
            plan = ("sorted", order, np.r_[0, np.flatnonzero(np.diff(pair[order])) + 1])
        chunk.cache[key] = (prediction, k, present, plan)  # kept alive: its id stays its own
    _, k, present, plan = chunk.cache[key]
    cm = np.zeros((chunk.size, k * k))
    if plan[0] == "products":
        cm[:, present] = chunk.tallies(plan[1])
    else:
        cm[:, present] = np.add.reduceat(np.take(chunk.counts, plan[1], axis=1), plan[2], axis=1)
    return cm.reshape(chunk.size, k, k)


def _weighted_from_confusions(metric: str, cm: np.ndarray) -> np.ndarray:
    """Support-weighted precision, recall or F1 (scikit-learn's ``average="weighted"``, zero_division=0)."""
    tp = np.diagonal(cm, axis1=1, axis2=2)
    support, predicted = cm.sum(axis=2), cm.sum(axis=1)
    if metric == "precision":
        per_class = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    elif metric == "recall":
        per_class = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    else:
        denom = support + predicted
        per_class = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return (per_class * support).sum(axis=1) / support.sum(axis=1)


def _resampled_auc(y_true: np.ndarray, prediction: Mapping[str, Any], chunk: Resamples) -> np.ndarray:
    """Binary ROC AUC on each resample from resampling counts (Mann–Whitney with ties), else a loop.

    A positive beats the negatives with a lower score and ties half of those
    with its own. The negative rows are sorted by score once per model; for every
    resample at once, the cumulative sums of their counts give how many of them
    lie below (or at) each positive's score, and the wins are those numbers
    weighted by the positives' counts. Everything is an exact integer, so the
    value equals the Mann–Whitney statistic of the gathered rows bit for bit.
    Scores that are not finite numbers keep the loop over resamples of the
    first version, which treats each NaN or infinite score as its own group.
    """
    proba = prediction.get("y_score")
    classes = list(prediction.get("classes") or [])
    if proba is None:
        return np.full(chunk.size, np.nan)
    proba = np.asarray(proba)
    if proba.ndim != 2 or proba.shape[1] != 2 or len(classes) != 2:
        return np.array([multiclass_auc(y_true[rows], proba[rows], classes) for rows in chunk.indices])
    scores = proba[:, 1]
    if scores.dtype.kind not in "iubf" or (scores.dtype.kind == "f" and not np.isfinite(scores).all()):
        return _auc_loop(y_true == classes[1], scores, chunk.indices)
    key = ("auc", id(prediction))
    if key not in chunk.cache:
        negative = y_true != classes[1]
        neg_rows = np.flatnonzero(negative)
        neg_rows = neg_rows[np.argsort(scores[neg_rows], kind="stable")]
        pos_rows = np.flatnonzero(~negative)
        pos_rows = pos_rows[np.argsort(scores[pos_rows], kind="stable")]  # `below` is then read in order
        neg_scores = scores[neg_rows]
        # for each positive: the negatives with a lower score, and with a lower or equal one
        lower = np.searchsorted(neg_scores, scores[pos_rows], side="left")
        upper = np.searchsorted(neg_scores, scores[pos_rows], side="right")
        tied = np.flatnonzero(upper != lower)
        chunk.cache[key] = (prediction, neg_rows, pos_rows, lower, upper, tied)  # kept alive: its id stays
    _, neg_rows, pos_rows, lower, upper, tied = chunk.cache[key]
    shape = (chunk.size, pos_rows.size)
    below = chunk.buffer("below", (chunk.size, neg_rows.size + 1))
    below[:, 0] = 0
    # below[b, j]: how many of the j lowest-scored negative rows resample b holds (exact int32, a count ≤ n)
    counts = chunk.narrow_counts
    neg = np.take(counts, neg_rows, axis=1, mode="clip",
                  out=chunk.buffer("neg", (chunk.size, neg_rows.size), counts.dtype))
    np.cumsum(neg, axis=1, dtype=np.int32, out=below[:, 1:])
    pos = np.take(counts, pos_rows, axis=1, mode="clip", out=chunk.buffer("pos", shape, counts.dtype))
    bounds = np.take(below, lower, axis=1, mode="clip", out=chunk.buffer("bounds", shape))
    # twice the wins: two per negative below a positive, one per negative tied with it
    if 4 * tied.size > pos_rows.size:  # many ties (rounded scores): both bounds for every positive
        bounds += np.take(below, upper, axis=1, mode="clip", out=chunk.buffer("upper", shape))
        wins2 = np.einsum("bi,bi->b", pos, bounds, dtype=np.int64)
    else:
        wins2 = 2 * np.einsum("bi,bi->b", pos, bounds, dtype=np.int64)
        if tied.size:
            wins2 += np.einsum("bi,bi->b", pos[:, tied], np.take(below, upper[tied], axis=1)
                               - np.take(below, lower[tied], axis=1), dtype=np.int64)
    n_neg = below[:, -1].astype(np.int64)
    total = ((chunk.n - n_neg) * n_neg).astype(float)  # every resample holds n rows
    wins = wins2.astype(float) / 2  # exact: integers and halves below 2**52
    out = np.full(chunk.size, np.nan)
    np.divide(wins, total, out=out, where=total > 0)
    return out


def _auc_loop(positive: np.ndarray, scores: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Binary ROC AUC of each resample, one at a time (tie groups of the sorted scores, NaN apart)."""
    order = np.argsort(scores, kind="stable")
    with np.errstate(invalid="ignore"):  # inf - inf: NaN, a new group as any other difference
        starts = np.r_[0, np.flatnonzero(np.diff(scores[order])) + 1]
    group = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, scores.size]))
    out = np.empty(indices.shape[0])
    n = scores.size
    for i, rows in enumerate(indices):
        counts = np.bincount(rows, minlength=n)[order]
        pos = np.where(positive[order], counts, 0).astype(float)
        neg = counts - pos
        neg_group = np.bincount(group, weights=neg, minlength=starts.size)
        below = np.cumsum(neg_group) - neg_group
        wins = (pos * (below[group] + 0.5 * neg_group[group])).sum()
        total = pos.sum() * neg.sum()
        out[i] = wins / total if total else np.nan
    return out


def multiclass_auc(y_true: np.ndarray, proba: np.ndarray, classes: list[Any]) -> float:
    """Weighted one-vs-rest ROC AUC of one resample (the loop fallback for more than two classes)."""
    if len(np.unique(y_true)) != len(classes):
        return float("nan")
    try:
        return weighted_ovr_auc(y_true, proba, classes)
    except ValueError:
        return float("nan")
