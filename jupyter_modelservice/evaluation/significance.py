"""Is a difference between models real? Paired tests and intervals on one test set, and across CV folds.

All models of a comparison are scored on the same rows, so every statistic is
*paired*: the bootstrap resamples rows once and applies the same resamples to
every model; accuracy differences are tested with the exact McNemar test on
the rows where the two models disagree; other metrics with the paired bootstrap
standard error of the metric difference (a normal approximation). P-values against the best model are Holm-adjusted
across the other models. Models cross-validated on the same folds are compared
with the corrected resampled t-test (Nadeau & Bengio, 2003).

Everything random is drawn from ``numpy.random.default_rng(random_state)``.
The bootstrap is vectorized over resamples (chunks of them at a time), with no
Python loop per resample except for multiclass ROC AUC: each chunk of resamples
becomes resampling counts (how many times each row is drawn) once, shared by
all models, and each model's metric on every resample is a product of its
per-row values with those counts (sorted cumulative counts for ROC AUC).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import InvalidInputError
from ..metric_names import higher_is_better

__all__ = [
    "RESAMPLING",
    "PairedDifference",
    "PairedResult",
    "corrected_ttest",
    "holm",
    "mcnemar_exact",
    "paired_comparison",
    "paired_differences",
]

#: Resampled rows held in memory at once: chunk × n_samples indices.
_CHUNK_CELLS = 4_000_000
#: Version of the resampling scheme (how resamples are drawn from the seed). Bootstrap values
#: kept from an earlier comparison are reused only under the same scheme: bump it when that changes.
RESAMPLING = 1


@dataclass(frozen=True)
class PairedResult:
    """One model's row of a paired comparison."""

    value: float
    ci_low: float
    ci_high: float
    p_value: float  # NaN for the best model
    tied_with_best: bool


@dataclass(frozen=True)
class PairedDifference:
    """The difference ``b - a`` of one metric between two models scored on the same rows."""

    metric: str
    a: float
    b: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    test: str


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """Two-sided exact McNemar p-value: a binomial test on the rows exactly one model gets right."""
    from scipy.stats import binomtest

    a_only = int(np.count_nonzero(correct_a & ~correct_b))
    b_only = int(np.count_nonzero(~correct_a & correct_b))
    if a_only + b_only == 0:
        return 1.0
    return float(binomtest(a_only, a_only + b_only, 0.5).pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input order (NaN stays NaN)."""
    p = np.asarray(p_values, dtype=float)
    finite = np.flatnonzero(~np.isnan(p))
    adjusted = p.copy()
    if finite.size:
        order = finite[np.argsort(p[finite], kind="stable")]
        m = order.size
        running = 0.0
        for rank, index in enumerate(order):
            running = max(running, min(1.0, (m - rank) * p[index]))
            adjusted[index] = running
    return adjusted.tolist()


def corrected_ttest(scores_a: Sequence[float], scores_b: Sequence[float], n_train: int, n_test: int) -> float:
    """Two-sided p-value of the corrected resampled t-test on per-fold scores of two models.

    The variance of the fold differences is inflated by ``1/k + n_test/n_train``
    (Nadeau & Bengio) because the training sets of the folds overlap.
    """
    from scipy.stats import t as student_t

    diff = np.asarray(scores_a, dtype=float) - np.asarray(scores_b, dtype=float)
    k = diff.size
    if k < 2:
        raise InvalidInputError("The corrected t-test needs the scores of at least 2 folds.")
    mean, var = float(diff.mean()), float(diff.var(ddof=1))
    if var == 0.0:
        return 1.0 if mean == 0.0 else 0.0
    t = mean / np.sqrt((1.0 / k + n_test / n_train) * var)
    return float(2 * student_t.sf(abs(t), df=k - 1))


# -- per-resample metric values -----------------------------------------------------------------

class _Resamples:
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


def _resampled(metric: str, y_true: np.ndarray, prediction: Mapping[str, Any],
               indices: np.ndarray | _Resamples) -> np.ndarray:
    """The metric of one model on each resample (rows of ``indices``), from the resampling counts.

    ``indices`` is either the resamples (one row each) or a `_Resamples` chunk
    that the models of a comparison share. Accuracy, precision, recall, F1 and
    binary ROC AUC are computed from exact integer counts, so they equal the
    metric of the gathered rows bit for bit; the regression errors and R² to
    rounding. Multiclass ROC AUC loops over the resamples.
    """
    chunk = indices if isinstance(indices, _Resamples) else _Resamples(np.asarray(indices))
    n = chunk.n
    y_pred = np.asarray(prediction["y_pred"])
    if metric == "accuracy":
        return chunk.tallies((y_pred == y_true).astype(np.int32)[None, :])[:, 0] / n
    if metric in ("mse", "rmse", "mae", "r2_score"):
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


def _confusions(y_true: np.ndarray, prediction: Mapping[str, Any], chunk: _Resamples) -> np.ndarray:
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


def _resampled_auc(y_true: np.ndarray, prediction: Mapping[str, Any], chunk: _Resamples) -> np.ndarray:
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
        return np.array([_multiclass_auc(y_true[rows], proba[rows], classes) for rows in chunk.indices])
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
    neg = np.take(chunk.counts, neg_rows, axis=1, mode="clip", out=chunk.buffer("neg", (chunk.size, neg_rows.size)))
    np.cumsum(neg, axis=1, out=below[:, 1:])
    pos = np.take(chunk.counts, pos_rows, axis=1, mode="clip", out=chunk.buffer("pos", shape))
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


def _bootstrap_p(observed: float, diffs: np.ndarray) -> float:
    """Two-sided p-value of a paired difference from its bootstrap standard error (normal approximation).

    Unlike counting resamples beyond the observed value, it is not floored at
    ``1 / n_bootstrap``, so a clear difference gets the small p-value it deserves.
    NaN when fewer than two resamples give a finite difference: nothing can be said.
    """
    from scipy.stats import norm

    diffs = diffs[np.isfinite(diffs)]
    if observed == 0 or not np.isfinite(observed):
        return 1.0
    if diffs.size < 2:  # no standard error (e.g. ROC AUC of resamples without scores): unknown, not certain
        return float("nan")
    se = float(diffs.std(ddof=1))
    if se == 0.0:
        return 0.0
    return float(2 * norm.sf(abs(observed) / se))


def _multiclass_auc(y_true: np.ndarray, proba: np.ndarray, classes: list[Any]) -> float:
    """Weighted one-vs-rest ROC AUC of one resample (the loop fallback for more than two classes)."""
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y_true)) != len(classes):
        return float("nan")
    try:
        return float(roc_auc_score(y_true, proba, multi_class="ovr", average="weighted", labels=classes))
    except ValueError:
        return float("nan")


SUPPORTED = ("accuracy", "precision", "recall", "f1_score", "roc_auc", "r2_score", "rmse", "mae", "mse")


def paired_comparison(
    y_true: Any,
    predictions: Mapping[str, Mapping[str, Any]],
    metric: str,
    values: Mapping[str, float],
    *,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    random_state: int = 0,
    bootstrap: dict[str, np.ndarray] | None = None,
) -> tuple[dict[str, PairedResult], str]:
    """Intervals and p-values of ``metric`` for models scored on the same rows.

    Parameters
    ----------
    y_true : array-like
        The test targets.
    predictions : mapping
        Per model name: ``y_pred``, and ``y_score`` / ``classes`` for ROC AUC.
    metric : str
        One of `SUPPORTED`.
    values : mapping
        The metric of each model on the full test set; the best one is the reference.
    alpha, n_bootstrap, random_state
        Significance level, number of paired bootstrap resamples, seed.
    bootstrap : dict, optional
        The bootstrap values of ``metric`` of some models, from an earlier
        call with the same ``y_true``, ``n_bootstrap`` and ``random_state``
        (the resamples depend on nothing else, so they are the same); those
        models are not resampled again. The values computed here are added
        to it, for the caller to keep.

    Returns
    -------
    (results, test)
        ``results[name]`` is a `PairedResult`; ``test`` names the test used
        (``"exact McNemar"`` for accuracy, ``"paired bootstrap"`` otherwise).
    """
    if metric not in SUPPORTED:
        raise InvalidInputError(f"No paired test for metric {metric!r}; use one of {', '.join(SUPPORTED)}.")
    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha must be between 0 and 1, got {alpha!r}.")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 100:
        raise InvalidInputError(f"n_bootstrap must be an integer of at least 100, got {n_bootstrap!r}.")
    y = np.asarray(y_true)
    names = list(predictions)
    sign = 1.0 if higher_is_better(metric) else -1.0
    finite = {m: v for m, v in values.items() if v is not None and np.isfinite(v)}
    if not finite:
        nan = PairedResult(float("nan"), float("nan"), float("nan"), float("nan"), False)
        return {m: nan for m in names}, "none"
    best = max(finite, key=lambda m: sign * finite[m])
    known = bootstrap if bootstrap is not None else {}
    boot = {m: np.asarray(known[m], dtype=float) for m in names
            if m in known and np.shape(known[m]) == (n_bootstrap,)}
    missing = [m for m in names if m not in boot]
    if missing:
        rng = np.random.default_rng(random_state)
        n = y.shape[0]
        chunk = max(1, min(n_bootstrap, _CHUNK_CELLS // max(n, 1)))
        boot.update({m: np.empty(n_bootstrap) for m in missing})
        cache: dict[Any, Any] = {}
        for start in range(0, n_bootstrap, chunk):
            resamples = _Resamples(rng.integers(0, n, size=(min(chunk, n_bootstrap - start), n)), cache)
            for m in missing:
                boot[m][start:start + resamples.size] = _resampled(metric, y, predictions[m], resamples)
            del resamples
        if bootstrap is not None:
            bootstrap.update({m: boot[m] for m in missing})
    low, high = 100 * alpha / 2, 100 * (1 - alpha / 2)
    raw: dict[str, float] = {}
    for m in names:
        if m == best or m not in finite:
            continue
        if metric == "accuracy":
            raw[m] = mcnemar_exact(np.asarray(predictions[best]["y_pred"]) == y,
                                   np.asarray(predictions[m]["y_pred"]) == y)
        else:
            raw[m] = _bootstrap_p(finite[best] - finite[m], boot[best] - boot[m])
    adjusted = dict(zip(raw, holm(list(raw.values()))))
    results = {}
    for m in names:
        sample = boot[m][np.isfinite(boot[m])]
        ci = (float(np.percentile(sample, low)), float(np.percentile(sample, high))) if sample.size else (
            float("nan"), float("nan"))
        p = adjusted.get(m, float("nan"))
        # a difference that cannot be tested (p unknown) is never claimed: such a model counts as tied
        tied = m == best or (m in finite and not p < alpha)
        results[m] = PairedResult(float(values.get(m, float("nan")) if values.get(m) is not None else "nan"),
                                  ci[0], ci[1], p, tied)
    return results, "exact McNemar" if metric == "accuracy" else "paired bootstrap"


def _check_options(alpha: float, n_bootstrap: int) -> None:
    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha must be between 0 and 1, got {alpha!r}.")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 100:
        raise InvalidInputError(f"n_bootstrap must be an integer of at least 100, got {n_bootstrap!r}.")


def paired_differences(
    y_true: Any,
    prediction_a: Mapping[str, Any],
    prediction_b: Mapping[str, Any],
    values_a: Mapping[str, Any],
    values_b: Mapping[str, Any],
    metrics: Sequence[str],
    *,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    random_state: int = 0,
) -> list[PairedDifference]:
    """``b - a`` of each metric, with its paired bootstrap interval and a two-sided p-value.

    The same resamples of the rows serve every metric. The p-value is the
    exact McNemar test for accuracy, else the paired bootstrap (normal
    approximation), as in `paired_comparison`. Metrics without a finite value
    for both models (ROC AUC without probabilities) are left out.
    """
    _check_options(alpha, n_bootstrap)
    y = np.asarray(y_true)
    names = [m for m in metrics if m in SUPPORTED and all(
        v.get(m) is not None and np.isfinite(v[m]) for v in (values_a, values_b))]
    rng = np.random.default_rng(random_state)
    n = y.shape[0]
    chunk = max(1, min(n_bootstrap, _CHUNK_CELLS // max(n, 1)))
    diffs = {m: np.empty(n_bootstrap) for m in names}
    cache: dict[Any, Any] = {}
    for start in range(0, n_bootstrap, chunk):
        resamples = _Resamples(rng.integers(0, n, size=(min(chunk, n_bootstrap - start), n)), cache)
        for m in names:
            diffs[m][start:start + resamples.size] = (_resampled(m, y, prediction_b, resamples)
                                                      - _resampled(m, y, prediction_a, resamples))
        del resamples
    low, high = 100 * alpha / 2, 100 * (1 - alpha / 2)
    out = []
    for m in names:
        a, b = float(values_a[m]), float(values_b[m])
        sample = diffs[m][np.isfinite(diffs[m])]
        ci = (float(np.percentile(sample, low)), float(np.percentile(sample, high))) if sample.size else (
            float("nan"), float("nan"))
        if m == "accuracy":
            p = mcnemar_exact(np.asarray(prediction_a["y_pred"]) == y, np.asarray(prediction_b["y_pred"]) == y)
        else:
            p = _bootstrap_p(b - a, diffs[m])
        out.append(PairedDifference(m, a, b, b - a, ci[0], ci[1], p,
                                    "exact McNemar" if m == "accuracy" else "paired bootstrap"))
    return out
