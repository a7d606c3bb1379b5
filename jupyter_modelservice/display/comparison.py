"""Side-by-side metrics of several model versions: :class:`ComparisonResult`."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

from ..metric_names import METRIC_LABELS, higher_is_better, metrics_for
from .base import FrameResult
from .figures import PALETTE, plain_text
from .tables import count, html_table, text_table

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["ComparisonResult", "metric_columns"]

_ID_COLUMNS = ("model_id", "version", "model_class")


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """The known metric columns of a comparison frame that hold a value, in display order.

    Parameters
    ----------
    frame : pandas.DataFrame
        What ``ModelService.compare_models`` returns.

    Returns
    -------
    list of str
    """
    task = frame["task_type"].iloc[0] if "task_type" in frame and len(frame) else None
    return [m for m in metrics_for(task) if m in frame.columns and frame[m].notna().any()]


class ComparisonResult(FrameResult):
    """A table of model versions and their test metrics, best first.

    The best value of each metric column is highlighted (the smallest for error
    metrics such as ``mse``, ``rmse``, ``mae``), and a bar chart shows every
    metric per model. Keywords of :meth:`plot` go to :meth:`matplotlib.axes.Axes.bar`.

    Parameters
    ----------
    frame : pandas.DataFrame
        What ``ModelService.compare_models`` returns.
    sort_by : str, optional
        The metric to rank by; by default the first metric of the task
        (``accuracy`` or ``r2_score``). Ties are broken by the other metrics.

    Attributes
    ----------
    sort_by : str
    metrics : list of str
        The metric columns shown.

    Raises
    ------
    ValueError
        When ``sort_by`` is not one of the metric columns.
    """

    _kind = "comparison"

    def __init__(self, frame: pd.DataFrame, sort_by: str | None = None) -> None:
        self.metrics = metric_columns(frame)
        if sort_by is None:
            ranked = frame.attrs.get("metric")
            sort_by = ranked if ranked in self.metrics else (self.metrics[0] if self.metrics else None)
        elif sort_by not in self.metrics:
            raise ValueError(
                f"Cannot sort by {sort_by!r}: choose one of {', '.join(self.metrics) or 'no metric'}."
            )
        self.sort_by = sort_by
        if sort_by is not None:  # ties are broken by the other metrics, in display order
            keys = [sort_by, *(m for m in self.metrics if m != sort_by)]
            frame = frame.sort_values(
                keys, ascending=[not higher_is_better(k) for k in keys], na_position="last", kind="stable"
            )
        attrs = dict(frame.attrs)
        self._frame = frame.reset_index(drop=True)
        self._frame.attrs = attrs

    @property
    def best(self) -> str | None:
        """``"model_id:version"`` of the best row, or None for an empty comparison."""
        if self._frame.empty:
            return None
        return row_ref(self._frame.iloc[0])

    @property
    def tested(self) -> bool:
        """Whether the frame carries paired tests of the metric it is sorted by."""
        return "tied_with_best" in self._frame and self._frame.attrs.get("metric") == self.sort_by

    @property
    def winner(self) -> str | None:
        """The best row's ``"model_id:version"`` when it is significantly better than every
        other row, else None (a statistical tie, or no test)."""
        if not self.tested or self._frame.empty:
            return None
        others = self._frame["tied_with_best"].iloc[1:]
        return self.best if not others.any() else None

    @property
    def tied(self) -> list[str]:
        """The rows statistically tied with the best one (the best one first)."""
        if not self.tested:
            return []
        return [f"{r.model_id}:{r.version}" for r in self._frame.itertuples() if r.tied_with_best]

    def verdict(self) -> str:
        """One sentence: is the best model significantly better, or which models tie with it?

        Without a test (stored metrics, ``ModelService.compare_evaluations``) the
        frame's ``note`` says so instead.
        """
        if not self.tested or len(self._frame) < 2:
            return str(self._frame.attrs.get("note") or "")
        attrs = self._frame.attrs
        label = METRIC_LABELS.get(self.sort_by or "", self.sort_by)
        n, test, alpha = attrs.get("n_samples"), attrs.get("test"), attrs.get("alpha", 0.05)
        return verdict(self._frame, self.winner, by=label, how=f"{test}, Holm-adjusted, n = {n}", alpha=alpha)

    def best_cells(self) -> dict[str, list[int]]:
        """Row positions holding the best value of each metric column (several on a tie)."""
        best = {}
        for metric in self.metrics:
            column = self._frame[metric]
            if column.notna().any():
                value = column.max() if higher_is_better(metric) else column.min()
                best[metric] = [int(i) for i in column.index[column == value]]
        return best

    def _table(self) -> tuple[list[str], list[list[Any]], list[tuple[int, int]]]:
        ids = [c for c in _ID_COLUMNS if c in self._frame.columns]
        headers = ["#", *ids, *(METRIC_LABELS.get(m, m) for m in self.metrics)]
        tested = self.tested
        if tested:
            level = round(100 * (1 - float(self._frame.attrs.get("alpha", 0.05))))
            headers += [f"{METRIC_LABELS.get(self.sort_by or '', self.sort_by)} {level}% CI", "p vs best"]
        rows = [
            [i + 1, *(row[c] for c in ids), *(row[m] for m in self.metrics),
             *((_interval(row["ci_low"], row["ci_high"]), "—" if i == 0 else _p(row["p_value"]))
               if tested else ())]
            for i, (_, row) in enumerate(self._frame.iterrows())
        ]
        first_metric = 1 + len(ids)
        cells = [(r, first_metric + self.metrics.index(m))
                 for m, rows in self.best_cells().items() for r in rows]
        return headers, rows, cells

    def _subtitle(self) -> str:
        if self.sort_by is None:
            return ""
        direction = "higher" if higher_is_better(self.sort_by) else "lower"
        return f"sorted by {METRIC_LABELS.get(self.sort_by, self.sort_by)} ({direction} is better)"

    def summary(self) -> str:
        if self._frame.attrs.get("stored") and not self.tested:
            return f"{len(self._frame)} models ranked by stored {self.sort_by}, no paired test"
        if self.tested and len(self._frame) > 1 and self.winner is None:
            return f"{len(self._frame)} models, no significant winner by {self.sort_by}"
        return f"{len(self._frame)} models, best {self.best} by {self.sort_by}"

    def _align(self, headers: list[str]) -> str:
        extra = 2 if self.tested else 0
        return "r" + "l" * (len(headers) - 1 - len(self.metrics) - extra) + "r" * (len(self.metrics) + extra)

    def to_text(self) -> str:
        headers, rows, best = self._table()
        verdict = self.verdict()
        return "\n".join(
            [
                f"Comparison of {count(len(rows), 'model')}, {self._subtitle()}",
                *([verdict] if verdict else []),
                text_table(headers, rows, align=self._align(headers), marks=best),
                "* top value of the column",
            ]
        )

    def _html_body(self, chart: str) -> str:
        headers, rows, best = self._table()
        verdict = self.verdict()
        return (
            f'<div class="jms-title">Comparison of {count(len(rows), "model")}</div>'
            f'<div class="jms-subtitle">{html.escape(self._subtitle())}; '
            "top value of each column highlighted</div>"
            + (f'<div class="jms-verdict">{html.escape(verdict)}</div>' if verdict else "")
            + f"{html_table(headers, rows, align=self._align(headers), best=best)}{chart}"
        )

    def _labels(self) -> list[str]:
        return [plain_text(f"{r['model_id']}:{r['version']}" if "version" in r else r["model_id"])
                for _, r in self._frame.iterrows()]

    def _chart_metrics(self) -> tuple[list[str], bool]:
        """The metrics in chart order (the one ranked by first) and whether they all lie in [0, 1]."""
        metrics = sorted(self.metrics, key=lambda m: m != self.sort_by)
        values = self._frame[metrics].astype(float)
        return metrics, bool(((values >= 0) & (values <= 1) | values.isna()).all().all())

    def _panels(self) -> int:
        if self._frame.empty or not self.metrics:
            return 0
        metrics, bounded = self._chart_metrics()
        return 1 if bounded else len(metrics)  # one grouped chart, or a panel per metric

    def _figsize(self) -> tuple[float, float]:
        metrics, bounded = self._chart_metrics()
        if bounded:
            return (max(5.5, 1.2 * len(metrics) + 0.35 * len(self._frame)), 3.4)
        return (max(6.0, 2.3 * len(metrics)), 3.0)

    def _draw(self, axes: list[Axes], **kwargs: Any) -> None:
        labels = self._labels()
        # The chart follows the ranking: the metric ranked by comes first and stands out.
        metrics, bounded = self._chart_metrics()
        values = self._frame[metrics].astype(float)
        ranked_label = METRIC_LABELS.get(self.sort_by or "", self.sort_by)
        errors = self._error_bars()
        if bounded:  # one grouped chart: metrics on the x axis, a bar per model
            ax = axes[0]
            width = 0.8 / len(labels)
            for k, label in enumerate(labels):
                offset = (k - (len(labels) - 1) / 2) * width
                bars = ax.bar([i + offset for i in range(len(metrics))], values.iloc[k].fillna(0),
                              **{"width": width, "color": PALETTE[k % len(PALETTE)], "label": label, **kwargs})
                for metric, bar in zip(metrics, bars):
                    if metric != self.sort_by:
                        bar.set_alpha(0.45)
                if errors is not None and self.sort_by is not None:  # the interval of the ranked metric only
                    ax.errorbar(offset, values.iloc[k][self.sort_by], yerr=errors[:, k:k + 1],
                                fmt="none", ecolor="#333333", capsize=2)
            ax.set_xticks(range(len(metrics)), [METRIC_LABELS.get(m, m) for m in metrics])
            if self.sort_by in metrics:
                ax.get_xticklabels()[0].set_fontweight("bold")
            ax.set_ylim(0.0, 1.0)  # from 0: a one-sample difference must not look decisive
            ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
            ax.set_title(plain_text(f"Metrics per model, ranked by {ranked_label}"), fontsize="medium")
            return
        # Metrics on different scales (regression): one panel per metric, the ranked one first.
        colors = [PALETTE[k % len(PALETTE)] for k in range(len(labels))]
        for ax, metric in zip(axes, metrics):
            ranked = errors is not None and metric == self.sort_by
            ax.bar(range(len(labels)), values[metric].fillna(0),
                   **{"color": colors, "capsize": 3, "ecolor": "#333333", "yerr": errors if ranked else None,
                      "alpha": 1.0 if metric == self.sort_by else 0.45, **kwargs})
            ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize="small")
            arrow = "↑" if higher_is_better(metric) else "↓"
            suffix = " (ranked)" if metric == self.sort_by else ""
            ax.set_title(plain_text(f"{METRIC_LABELS.get(metric, metric)} {arrow}{suffix}"), fontsize="medium",
                         fontweight="bold" if metric == self.sort_by else "normal")

    def _error_bars(self) -> Any:
        """``(2, models)`` distances from each value of the ranked metric to its interval, or None."""
        if not self.tested:
            return None
        import numpy as np

        values = self._frame[self.sort_by].astype(float).to_numpy()
        below = np.nan_to_num(values - self._frame["ci_low"].astype(float).to_numpy()).clip(min=0)
        above = np.nan_to_num(self._frame["ci_high"].astype(float).to_numpy() - values).clip(min=0)
        return np.vstack([below, above])


def verdict(frame: pd.DataFrame, winner: str | None, *, by: str | None, how: str, alpha: float) -> str:
    """The sentence under a comparison: the significant winner, or the versions tied with the best.

    ``frame`` is sorted best first and has ``p_value`` and ``tied_with_best`` (the
    other versions against the best); ``how`` names the test and the data.
    """
    rest = frame.iloc[1:]
    if winner is not None:
        worst = _p(rest["p_value"].max())
        bound = f"p {worst}" if worst.startswith("<") else f"p ≤ {worst}"
        return f"Best: {winner} by {by}, significantly better than every other model ({how}, {bound})."
    tied = ", ".join(f"{row_ref(r)} (p = {_p(r['p_value'])})" for _, r in rest.iterrows() if r["tied_with_best"])
    return (f"No significant winner by {by}: {row_ref(frame.iloc[0])} is statistically tied with {tied} "
            f"({how}, alpha = {alpha:g}).")


def row_ref(row: Any) -> str:
    """``"model_id:version"`` of a comparison row (its ``model_id`` when it has no version)."""
    return f"{row['model_id']}:{row['version']}" if "version" in row else str(row["model_id"])


def _p(value: Any) -> str:
    """A p-value as shown: three significant digits, ``< 0.001`` below that."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3g}"


def _interval(low: Any, high: Any) -> str:
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return "—"
    return f"{low:.4f}–{high:.4f}"
