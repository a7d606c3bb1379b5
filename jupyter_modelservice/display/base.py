"""The base of every result object: one ``_repr_mimebundle_`` for text, HTML and PNG."""

from __future__ import annotations

import base64
import html
from typing import TYPE_CHECKING, Any

from .figures import figure_to_png, png_img_tag
from .tables import INLINE, css

if TYPE_CHECKING:
    from collections.abc import Container

    from matplotlib.figure import Figure

__all__ = ["RichResult"]


class RichResult:
    """A result that renders as ``text/plain``, ``text/html`` and, with a chart, ``image/png``.

    Subclasses implement :meth:`to_text`, :meth:`_html_body` and, when they have a
    chart, :meth:`_draw`. The chart is drawn once, on first use, and cached as
    ``figure_``.
    """

    #: Suffix of the CSS class of the outer ``<div>`` (``jms-<kind>``).
    _kind = "result"

    figure_: Figure | None

    # -- to implement ------------------------------------------------------
    def to_text(self) -> str:
        """A readable monospace rendering (what terminal IPython shows)."""
        raise NotImplementedError

    def _html_body(self, chart: str) -> str:
        """The inner HTML; ``chart`` is the ``<img>`` of the chart, or ``""``."""
        raise NotImplementedError

    def _draw(self) -> Figure | None:
        """Draw the chart on a new Figure, or return None when there is none."""
        return None

    def summary(self) -> str:
        """One line saying what the result holds (used by ``repr()`` and as the chart's alt text)."""
        return ""

    # -- shared ------------------------------------------------------------
    def plot(self) -> RichResult:
        """Draw the chart (if this result has one) and store it as ``figure_``.

        Returns
        -------
        self
        """
        self.figure_ = self._draw()
        self.__dict__.pop("_png", None)
        return self

    def to_png(self) -> bytes | None:
        """The chart as PNG bytes, or None when this result has no chart."""
        if "_png" not in self.__dict__:
            if "figure_" not in self.__dict__:
                self.plot()
            self._png = figure_to_png(self.figure_) if self.figure_ is not None else None
        return self._png

    def to_html(self) -> str:
        """The HTML repr: a ``<div class="jms">`` with the stylesheet, body and chart."""
        png = self.to_png()
        chart = ""
        if png is not None:
            img = png_img_tag(png, alt=self.summary(), style=INLINE["chart"])
            chart = f'<div class="jms-chart" style="max-width:100%">{img}</div>'
        return (
            f'<div class="jms jms-{html.escape(self._kind)}" style="max-width:100%;margin:4px 0">'
            f"<style>{css()}</style>{self._html_body(chart)}</div>"
        )

    def _repr_mimebundle_(
        self, include: Container[str] | None = None, exclude: Container[str] | None = None
    ) -> dict[str, Any]:
        """MIME bundle for IPython: ``text/plain`` always, HTML and PNG when wanted."""

        def wanted(mime: str) -> bool:
            return (include is None or mime in include) and not (exclude and mime in exclude)

        bundle: dict[str, Any] = {"text/plain": self.to_text()}
        if wanted("text/html"):
            bundle["text/html"] = self.to_html()
        if wanted("image/png"):
            png = self.to_png()
            if png is not None:
                bundle["image/png"] = base64.b64encode(png).decode("ascii")
        return bundle

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        summary = self.summary()
        return f"<{type(self).__name__}{' ' + summary if summary else ''}>"
