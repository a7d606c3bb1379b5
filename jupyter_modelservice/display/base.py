"""The base of every result object: one ``_repr_mimebundle_`` for text, HTML and PNG, and the
plotting contract of scikit-learn's Display objects (``plot(ax=None, **kwargs)`` → ``self``)."""

from __future__ import annotations

import base64
import html
from typing import TYPE_CHECKING, Any

from .figures import figure_to_png, new_figure, png_img_tag
from .tables import INLINE, css

if TYPE_CHECKING:
    from collections.abc import Container

    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

__all__ = ["FrameResult", "RichResult", "drawing_options"]


class RichResult:
    """A result that renders as ``text/plain``, ``text/html`` and, with a chart, ``image/png``.

    Subclasses implement :meth:`frame`, :meth:`to_text`, :meth:`_html_body` and,
    when they have a chart, :meth:`_panels`, :meth:`_figsize` and :meth:`_draw`.
    As in scikit-learn's Display objects, :meth:`plot` draws on the given axes
    (or on a new figure), stores ``ax_`` and ``figure_`` and returns ``self``.
    The PNG of the rich display is drawn once, on first use.

    Attributes
    ----------
    ax_ : matplotlib Axes, ndarray of Axes or None
        What :meth:`plot` drew on (an array when the chart has several panels).
    figure_ : matplotlib Figure (or SubFigure) or None
        The figure holding ``ax_``; None when the result has no chart.
    """

    #: Suffix of the CSS class of the outer ``<div>`` (``jms-<kind>``).
    _kind = "result"

    ax_: Any
    figure_: Figure | SubFigure | None

    # -- to implement ------------------------------------------------------
    def frame(self) -> pd.DataFrame:
        """What the result shows, as a :class:`pandas.DataFrame`."""
        raise NotImplementedError

    def to_text(self) -> str:
        """A readable monospace rendering (what terminal IPython shows)."""
        raise NotImplementedError

    def _html_body(self, chart: str) -> str:
        """The inner HTML; ``chart`` is the ``<img>`` of the chart, or ``""``."""
        raise NotImplementedError

    def _panels(self) -> int:
        """How many axes the chart draws on; 0 when this result has no chart."""
        return 0

    def _figsize(self) -> tuple[float, float]:
        """Width and height, in inches, of the figure :meth:`plot` creates."""
        return (6.0, 3.6)

    def _draw(self, axes: list[Axes], **kwargs: Any) -> None:
        """Draw the chart on ``axes`` (:meth:`_panels` of them); ``kwargs`` come from :meth:`plot`."""

    def summary(self) -> str:
        """One line saying what the result holds (used by ``repr()`` and as the chart's alt text)."""
        return ""

    # -- shared ------------------------------------------------------------
    def plot(self, ax: Any = None, **kwargs: Any) -> RichResult:
        """Draw the chart and store ``ax_`` and ``figure_``.

        matplotlib's pyplot is never used to create a figure: the user's backend
        and pyplot's figures stay as they are.

        Parameters
        ----------
        ax : matplotlib Axes or sequence of Axes, default None
            Where to draw: one Axes per panel of the chart (a sequence such as
            ``fig.subplots(1, 2)`` for a chart of two panels). None draws on a
            new :class:`matplotlib.figure.Figure`.
        **kwargs
            Drawing options of the result (see the class's documentation), passed
            on to matplotlib or to scikit-learn's Display objects.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            When ``ax`` does not hold one Axes per panel.
        """
        n = self._panels()
        self.__dict__.pop("_png", None)
        if n == 0:
            self.ax_, self.figure_ = None, None
            return self
        if ax is None:
            axes = self._new_axes()
            self._own_figure = True
        else:
            axes = _as_axes(ax)
            if len(axes) != n:
                raise ValueError(f"This chart has {n} panel{'s' if n != 1 else ''}: pass ax as "
                                 f"{'one Axes' if n == 1 else f'a sequence of {n} Axes, e.g. fig.subplots(1, {n})'} "
                                 f"(got {len(axes)}), or ax=None for a new figure.")
            self._own_figure = False
        self._draw(axes, **kwargs)
        self._plot_kwargs = kwargs
        if n == 1:
            self.ax_ = axes[0]
        else:
            import numpy as np

            self.ax_ = np.empty(n, dtype=object)
            self.ax_[:] = axes
        self.figure_ = axes[0].figure
        return self

    def _new_axes(self) -> list[Axes]:
        figure = new_figure(*self._figsize())
        return list(figure.subplots(1, self._panels(), squeeze=False)[0])

    def to_png(self) -> bytes | None:
        """The chart as PNG bytes, or None when this result has no chart.

        The PNG shows the chart on a figure of its own, also after :meth:`plot`
        drew it on axes of yours.
        """
        if "_png" not in self.__dict__:
            figure = self._png_figure()
            self._png = figure_to_png(figure) if figure is not None else None
        return self._png

    def _png_figure(self) -> Figure | None:
        if "figure_" not in self.__dict__:
            self.plot()
        if self.figure_ is None:
            return None
        # (a subfigure's ``figure`` is its top figure, a figure's itself: get_figure(root=True) needs
        # matplotlib 3.10)
        if self.__dict__.get("_own_figure"):
            return self.figure_.figure
        axes = self._new_axes()  # plot() drew on axes of the user's: the PNG gets a figure of its own
        self._draw(axes, **self._plot_kwargs)
        return axes[0].figure.figure

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


class FrameResult(RichResult):
    """A result held as one DataFrame, one row per model: :meth:`frame` copies it, ``data`` lists its rows."""

    _frame: pd.DataFrame

    def frame(self) -> pd.DataFrame:
        """The rows shown, best first (a copy; ``attrs`` say how they were computed)."""
        return self._frame.copy()

    @property
    def data(self) -> list[dict[str, Any]]:
        """The rows as dictionaries, best first."""
        return self._frame.to_dict(orient="records")


def _as_axes(ax: Any) -> list[Axes]:
    """``ax`` (one Axes, or a sequence or array of them) as a flat list."""
    from matplotlib.axes import Axes

    if isinstance(ax, Axes):
        return [ax]
    import numpy as np

    return list(np.ravel(np.asarray(ax, dtype=object)))


def drawing_options(kwargs: dict[str, Any], **defaults: Any) -> dict[str, Any]:
    """The keywords given to ``plot`` over their ``defaults``; an unknown keyword is a TypeError."""
    unknown = sorted(set(kwargs) - set(defaults))
    if unknown:
        raise TypeError(f"plot() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
                        f"this chart takes {', '.join(defaults) or 'none'}.")
    return {**defaults, **kwargs}
