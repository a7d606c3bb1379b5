"""Is a difference between models real? Paired tests and intervals on one test set, and across CV folds.

All models of a comparison are scored on the same rows, so every statistic is
*paired*: the bootstrap resamples rows once and applies the same resamples to
every model; accuracy differences are tested with the exact McNemar test on
the rows where the two models disagree; other metrics with the paired bootstrap
standard error of the metric difference (a normal approximation). P-values against the best model are Holm-adjusted
across the other models. Models cross-validated on the same folds are compared
with the corrected resampled t-test (Nadeau & Bengio, 2003).

Everything random is drawn from ``numpy.random.default_rng(random_state)``.
The bootstrap draws its resamples here, a chunk at a time, and each model's
metric on every resample of a chunk comes from `resampling` (vectorized over
the resamples, through resampling counts shared by every model).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import InvalidInputError
from ..metric_names import CLASSIFICATION_METRICS, REGRESSION_METRICS, higher_is_better
from . import resampling

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


SUPPORTED = (*CLASSIFICATION_METRICS, *REGRESSION_METRICS)


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
            resamples = resampling.Resamples(rng.integers(0, n, size=(min(chunk, n_bootstrap - start), n)), cache)
            for m in missing:
                boot[m][start:start + resamples.size] = resampling.resampled(metric, y, predictions[m], resamples)
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
        resamples = resampling.Resamples(rng.integers(0, n, size=(min(chunk, n_bootstrap - start), n)), cache)
        for m in names:
            diffs[m][start:start + resamples.size] = (resampling.resampled(m, y, prediction_b, resamples)
                                                      - resampling.resampled(m, y, prediction_a, resamples))
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
