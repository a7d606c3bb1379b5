"""Matplotlib plumbing shared by the charts: a pyplot-free figure and PNG export.

matplotlib is imported inside the functions, so importing this module costs
nothing, and the user's backend is never touched (no pyplot, no ``use()``).
"""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DPI", "PALETTE", "figure_to_png", "new_figure", "plain_text", "png_img_tag"]

#: Resolution of the PNGs embedded in notebook outputs.
DPI = 96

#: Colours of the series (Tableau 10), in order.
PALETTE = (
    "#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2",
    "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac",
)


def new_figure(width: float = 6.0, height: float = 3.6, **kwargs: Any) -> Figure:
    """Create a :class:`matplotlib.figure.Figure` with a constrained layout.

    Parameters
    ----------
    width, height : float
        Size in inches.
    **kwargs
        Passed to :class:`~matplotlib.figure.Figure`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    kwargs.setdefault("layout", "constrained")
    return Figure(figsize=(width, height), **kwargs)


def plain_text(value: Any) -> str:
    """``value`` as text that matplotlib draws literally: every ``$`` escaped.

    Use it for feature names, class labels and model references in charts: a
    ``$`` pair would otherwise start mathtext, which draws ``$x^2$`` as a
    formula and fails on ``$\\foo$``.

    >>> plain_text("cost ($)")
    'cost (\\\\$)'
    """
    import matplotlib

    text = str(value)
    return text.replace("$", r"\$") if matplotlib.rcParams["text.parse_math"] else text


def figure_to_png(fig: Figure, dpi: int = DPI) -> bytes:
    """Render ``fig`` to PNG bytes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    dpi : int, default :data:`DPI`

    Returns
    -------
    bytes
        The PNG file, starting with ``b"\\x89PNG"``.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def png_img_tag(png: bytes, alt: str, style: str = "") -> str:
    """An ``<img>`` element carrying ``png`` as a data URI (``alt`` and ``style`` are escaped)."""
    data = base64.b64encode(png).decode("ascii")
    extra = f' style="{html.escape(style, quote=True)}"' if style else ""
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt, quote=True)}"{extra}/>'
