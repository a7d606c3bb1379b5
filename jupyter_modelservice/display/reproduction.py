"""Whether a version reproduces from its data: :class:`ReproductionResult` (``%reproduce``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .base import RichResult
from .tables import esc, html_kv_table, text_kv_table

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ReproductionResult"]

_VERDICT = {
    "identical": "reproduces: the refit predicts exactly what the stored model predicts",
    "within_tolerance": "reproduces within tolerance",
    "different": "does NOT reproduce: the refit predicts differently",
}


class ReproductionResult(RichResult):
    """What ``ModelService.reproduce`` found, as a verdict line and the figures behind it.

    Parameters
    ----------
    data : dict
        What ``ModelService.reproduce`` returns.

    Attributes
    ----------
    data : dict
    """

    _kind = "reproduction"

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = dict(data)

    def frame(self) -> pd.DataFrame:
        """The verdict and its figures as one row indexed by the version's reference: ``data_matches``,
        ``outcome``, ``n_rows``, ``n_different``, ``max_abs_diff`` (the last three None when the data differs)."""
        import pandas as pd

        row = {key: self.data.get(key) for key in ("data_matches", "outcome", "n_rows", "n_different",
                                                    "max_abs_diff")}
        return pd.DataFrame([row], index=pd.Index([self.data["ref"]], name="model"))

    def summary(self) -> str:
        ref = self.data["ref"]
        if not self.data["data_matches"]:
            return f"{ref}: not refitted, the data differs from its training data"
        return f"{ref} {_VERDICT[self.data['outcome']]}"

    def _details(self) -> dict[str, Any]:
        d = self.data
        if not d["data_matches"]:
            return {"differences": "; ".join(d["data_differences"])}
        return {"outcome": d["outcome"], "rows compared": d["n_rows"],
                "rows predicted differently": d["n_different"],
                "largest difference": f"{d['max_abs_diff']:.3g}"}

    def to_text(self) -> str:
        return f"{self.summary()}\n{text_kv_table(self._details())}"

    def _html_body(self, chart: str) -> str:
        return (f'<div class="jms-title">Reproduction of <code>{esc(self.data["ref"])}</code></div>'
                f'<div class="jms-verdict">{esc(self.summary())}</div>{html_kv_table(self._details())}')
