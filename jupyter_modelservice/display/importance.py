"""Feature importances of a model version: :class:`ImportanceResult`."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .base import RichResult
from .figures import PALETTE, plain_text
from .tables import INLINE, html_row, html_table, text_table

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["ImportanceResult"]


class ImportanceResult(RichResult):
    """The most important features of a model, as a table and a horizontal bar chart.

    Parameters
    ----------
    importances : mapping of str to float
        Feature name → importance, in the order to show (the service returns
        them sorted, largest first).
    ref : str, optional
        The model reference the importances belong to (for titles).
    top : int, default 20
        How many features to show; ``data`` and ``frame()`` keep all of them.
        Keywords of :meth:`plot` go to :meth:`matplotlib.axes.Axes.barh`.

    Attributes
    ----------
    data : dict of str to float
        Every importance, in the given order.
    ref : str or None
    top : int
    """

    _kind = "importance"

    def __init__(self, importances: Mapping[str, float], ref: str | None = None, top: int = 20) -> None:
        if top < 1:
            raise ValueError(f"top must be at least 1, got {top}.")
        self.data = {str(k): float(v) for k, v in importances.items()}
        self.ref = ref
        self.top = top

    def frame(self) -> pd.DataFrame:
        """All features: columns ``feature`` and ``importance``, in the given order."""
        import pandas as pd

        return pd.DataFrame({"feature": list(self.data), "importance": list(self.data.values())})

    @property
    def top_features(self) -> list[tuple[str, float]]:
        """The first ``top`` ``(feature, importance)`` pairs."""
        return list(self.data.items())[: self.top]

    def _title(self) -> str:
        shown = min(self.top, len(self.data))
        of = f"top {shown} of {len(self.data)}" if shown < len(self.data) else f"{shown}"
        return f"Feature importance of {self.ref or 'the model'} ({of} features)"

    def summary(self) -> str:
        return self._title()

    def to_text(self) -> str:
        rows = [[i + 1, name, value] for i, (name, value) in enumerate(self.top_features)]
        return f"{self._title()}\n{text_table(['#', 'feature', 'importance'], rows, align='rlr')}"

    def _html_body(self, chart: str) -> str:
        rows = [[i + 1, name, value] for i, (name, value) in enumerate(self.top_features)]
        table = html_table(["#", "feature", "importance"], rows, align="rlr")
        return (
            f'<div class="jms-title">{html.escape(self._title())}</div>'
            + html_row(f'<div class="jms-section" style="{INLINE["section"]}">{table}</div>', chart)
        )

    def _panels(self) -> int:
        return 1 if self.data else 0

    def _figsize(self) -> tuple[float, float]:
        return (5.5, max(2.0, 0.28 * len(self.top_features) + 0.9))

    def _draw(self, axes: list[Axes], **kwargs: Any) -> None:
        ax = axes[0]
        items = self.top_features
        names = [plain_text(name) for name, _ in items]
        values = [value for _, value in items]
        colors = [PALETTE[3] if v < 0 else PALETTE[0] for v in values]
        ax.barh(range(len(items)), values, **{"color": colors, **kwargs})
        ax.set_yticks(range(len(items)), names, fontsize="small")
        ax.invert_yaxis()  # the most important feature on top
        ax.axvline(0, color="grey", linewidth=0.8)
        ax.set_xlabel("importance")
        ax.set_title(plain_text(self._title()), fontsize="medium")
