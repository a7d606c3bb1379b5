"""Cross-validations compared on the same folds: :class:`CVComparisonResult` (``%compare --cv``)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from .base import FrameResult
from .comparison import _p, row_ref, verdict
from .figures import PALETTE, plain_text
from .tables import count, html_table, text_table

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["CVComparisonResult"]


class CVComparisonResult(FrameResult):
    """Mean CV score per model version, best first, with the corrected resampled t-test against the best.

    Names a winner only when it is significantly better than every other
    version; otherwise says which versions are statistically tied with it.
    The chart shows every fold's score and the mean of each version, on an
    axis from 0 for scores between 0 and 1. Keywords of :meth:`plot` go to
    :meth:`matplotlib.axes.Axes.scatter` (the fold scores).

    Parameters
    ----------
    frame : pandas.DataFrame
        What ``ModelService.compare_cv`` returns.
    """

    _kind = "cv-comparison"

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    @property
    def scoring(self) -> str:
        return str(self._frame.attrs.get("metric", "score"))

    @property
    def best(self) -> str | None:
        """``"model_id:version"`` of the best mean score."""
        return None if self._frame.empty else row_ref(self._frame.iloc[0])

    @property
    def winner(self) -> str | None:
        """The best version when it is significantly better than every other one, else None."""
        if len(self._frame) < 2 or self._frame["tied_with_best"].iloc[1:].any():
            return None
        return self.best

    @property
    def tied(self) -> list[str]:
        """The versions statistically tied with the best one (the best one first)."""
        return [row_ref(r) for _, r in self._frame.iterrows() if r["tied_with_best"]]

    def verdict(self) -> str:
        """One sentence: is the best version significantly better, or which ones tie with it?"""
        if len(self._frame) < 2:
            return ""
        attrs = self._frame.attrs
        how = (f"{attrs.get('test')}, Holm-adjusted, k = {attrs.get('n_folds')} folds, "
               f"n_train = {attrs.get('n_train')}, n_test = {attrs.get('n_test')}")
        return verdict(self._frame, self.winner, by=f"mean {self.scoring}", how=how, alpha=attrs.get("alpha", 0.05))

    def summary(self) -> str:
        if len(self._frame) > 1 and self.winner is None:
            return f"{len(self._frame)} models, no significant winner by CV {self.scoring}"
        return f"{len(self._frame)} models, best {self.best} by CV {self.scoring}"

    def _subtitle(self) -> str:
        attrs = self._frame.attrs
        splitter = attrs.get("splitter") or {}
        return (f"{splitter.get('class')}, {attrs.get('n_folds')} folds (shuffle={splitter.get('shuffle')}, "
                f"random_state={splitter.get('random_state')}), the same folds of the same data "
                f"(n = {attrs.get('n_samples')})")

    def _table(self) -> tuple[list[str], list[list[Any]]]:
        headers = ["#", "model_id", "version", "model_class", f"mean {self.scoring}", "std", "folds", "p vs best"]
        rows = [[i + 1, r["model_id"], r["version"], r["model_class"], r["mean_score"], r["std_score"],
                 r["n_folds"], "—" if i == 0 else _p(r["p_value"])] for i, (_, r) in enumerate(self._frame.iterrows())]
        return headers, rows

    def to_text(self) -> str:
        headers, rows = self._table()
        verdict = self.verdict()
        return "\n".join([f"Cross-validation comparison of {count(len(rows), 'model')}, {self._subtitle()}",
                          *([verdict] if verdict else []), text_table(headers, rows, align="rlrlrrrr")])

    def _html_body(self, chart: str) -> str:
        headers, rows = self._table()
        verdict = self.verdict()
        return (f'<div class="jms-title">Cross-validation comparison of {count(len(rows), "model")}</div>'
                f'<div class="jms-subtitle">{html.escape(self._subtitle())}</div>'
                + (f'<div class="jms-verdict">{html.escape(verdict)}</div>' if verdict else "")
                + html_table(headers, rows, align="rlrlrrrr") + chart)

    def _panels(self) -> int:
        return 0 if self._frame.empty else 1

    def _figsize(self) -> tuple[float, float]:
        return (max(4.5, 1.1 * len(self._frame) + 2), 3.2)

    def _draw(self, axes: list[Axes], **kwargs: Any) -> None:
        ax = axes[0]
        labels = [plain_text(row_ref(r)) for _, r in self._frame.iterrows()]
        scores = [list(s) for s in self._frame["fold_scores"]]
        for k, fold_scores in enumerate(scores):
            ax.scatter([k] * len(fold_scores), fold_scores,
                       **{"color": PALETTE[k % len(PALETTE)], "alpha": 0.6, "s": 18, "zorder": 3, **kwargs})
            ax.errorbar(k, self._frame["mean_score"].iloc[k], yerr=self._frame["std_score"].iloc[k], fmt="_",
                        color="#333333", markersize=18, capsize=4, zorder=4)
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize="small")
        ax.set_xlim(-0.6, len(labels) - 0.4)
        values = [v for s in scores for v in s]
        if values and min(values) >= 0 and max(values) <= 1:
            ax.set_ylim(0.0, 1.0)  # from 0: small differences must not look decisive
        ax.set_ylabel(plain_text(f"{self.scoring} per fold"))
        ax.set_title(plain_text(f"CV {self.scoring}: folds (dots), mean ± std"), fontsize="medium")
