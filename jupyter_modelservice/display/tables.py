"""Value formatting and the two table renderers: monospace text and scoped HTML.

Everything here is pure: values in, ``str`` out. Every value that reaches HTML
goes through :func:`html.escape` (see :func:`esc`).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

from ..formatting import aligned, count, format_timestamp, format_value

__all__ = [
    "INLINE",
    "count",
    "css",
    "esc",
    "format_timestamp",
    "format_value",
    "html_kv_table",
    "html_row",
    "html_section",
    "html_table",
    "status_badge",
    "text_kv_table",
    "text_table",
]


#: Layout that must hold without the package stylesheet: a notebook opened untrusted (its
#: ``<style>`` is removed), GitHub, some HTML exports. Inline styles beat the stylesheet, so only
#: layout goes here; colours and fonts stay in ``style.css`` (they follow the JupyterLab theme).
INLINE = {
    "row": "display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start",
    "section": "margin:6px 0 10px 0;min-width:0;max-width:100%",
    "scroll": "overflow-x:auto;max-width:100%",
    "table": "border-collapse:collapse;margin:0;table-layout:auto",
    "cell": "padding:3px 10px;white-space:nowrap;text-align:right",
    "left": "padding:3px 10px;white-space:nowrap;text-align:left",
    "wrap": "padding:3px 10px;text-align:left;overflow-wrap:anywhere",
    "chart": "max-width:100%;height:auto",
    # The best value of a column stays marked without the stylesheet (its green background is there).
    "best": "font-weight:700",
}


def esc(value: Any) -> str:
    """Format ``value`` with :func:`format_value` and escape it for HTML."""
    return html.escape(format_value(value), quote=True)


@lru_cache(maxsize=1)
def css() -> str:
    """The package stylesheet ``display/style.css`` (read once)."""
    return resources.files(__package__).joinpath("style.css").read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- text


def text_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    align: str | None = None,
    marks: Iterable[tuple[int, int]] = (),
) -> str:
    """Render rows as a monospace table.

    Parameters
    ----------
    headers : sequence of str
        Column titles.
    rows : iterable of sequences
        Cell values, formatted with :func:`format_value`.
    align : str, optional
        One character per column, ``"l"`` or ``"r"``; by default the first
        column is left-aligned and the others right-aligned.
    marks : iterable of (row, column)
        Cells to flag with a trailing ``*`` (the best value of a column).

    Returns
    -------
    str

    Examples
    --------
    >>> print(text_table(["model", "accuracy"], [["rf", 0.95], ["lr", 0.9]]))
    model  accuracy
    -----  --------
    rf       0.9500
    lr       0.9000
    """
    marked = set(marks)
    cells = [
        [format_value(v) + ("*" if (i, j) in marked else "") for j, v in enumerate(row)]
        for i, row in enumerate(rows)
    ]
    align = align or "l" + "r" * (len(headers) - 1)
    header = [str(h) for h in headers]
    widths = [max([len(header[j])] + [len(r[j]) for r in cells]) for j in range(len(header))]
    return "\n".join(aligned([header, ["-" * w for w in widths], *cells], align))


def text_kv_table(items: Mapping[str, Any]) -> str:
    """Render ``{label: value}`` as two aligned columns without a header."""
    if not items:
        return ""
    width = max(len(k) for k in items)
    return "\n".join(f"{k.ljust(width)}  {format_value(v)}" for k, v in items.items())


# ----------------------------------------------------------------------------- html


def html_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    align: str | None = None,
    best: Iterable[tuple[int, int]] = (),
    raw_columns: Iterable[int] = (),
) -> str:
    """Render rows as an HTML ``<table class="jms-table">``.

    Parameters
    ----------
    headers, rows, align
        As in :func:`text_table`.
    best : iterable of (row, column)
        Cells to highlight with the ``jms-best`` class.
    raw_columns : iterable of int
        Columns whose cells are already HTML (built by the caller from escaped
        parts); they are inserted as they are.

    Returns
    -------
    str
    """
    best_cells = set(best)
    raw = set(raw_columns)
    n = len(headers)
    align = align or "l" + "r" * (n - 1)
    styles = {"l": f' class="jms-left" style="{INLINE["left"]}"', "r": f' style="{INLINE["cell"]}"'}
    head = "".join(f"<th{styles[a]}>{html.escape(str(h))}</th>" for h, a in zip(headers, align))
    body = []
    for i, row in enumerate(rows):
        tds = []
        for j, (value, a) in enumerate(zip(row, align)):
            classes = (["jms-left"] if a == "l" else []) + (["jms-best"] if (i, j) in best_cells else [])
            attr = f' class="{" ".join(classes)}"' if classes else ""
            style = INLINE["left"] if a == "l" else INLINE["cell"]
            if (i, j) in best_cells:
                style += ";" + INLINE["best"]
            text = value if j in raw else esc(value)
            tds.append(f'<td{attr} style="{style}">{text}</td>')
        body.append("<tr>" + "".join(tds) + "</tr>")
    return _scrolling(
        f'<table class="jms-table" style="{INLINE["table"]}"><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
    )


def status_badge(status: str) -> str:
    """A version's status as a coloured badge (escaped HTML)."""
    return f'<span class="jms-badge jms-status-{html.escape(status, quote=True)}">{html.escape(status)}</span>'


def html_kv_table(items: Mapping[str, Any], *, wrap: bool = False) -> str:
    """Render ``{label: value}`` as a two-column HTML table without a header row.

    ``wrap=True`` lets long values (paths, digests) wrap instead of widening the table.
    """
    value_style = INLINE["wrap"] if wrap else INLINE["left"]
    rows = "".join(
        f'<tr><th class="jms-left" style="{INLINE["left"]}">{html.escape(str(k))}</th>'
        f'<td class="jms-left" style="{value_style}">{esc(v)}</td></tr>'
        for k, v in items.items()
    )
    return _scrolling(f'<table class="jms-table" style="{INLINE["table"]}"><tbody>{rows}</tbody></table>')


def _scrolling(table: str) -> str:
    """A table in its own box that scrolls sideways when the output area is narrower than it."""
    return f'<div class="jms-scroll" style="{INLINE["scroll"]}">{table}</div>'


def html_section(title: str, body: str) -> str:
    """A titled block (``<div class="jms-section">``) around already-escaped ``body`` HTML."""
    heading = (f'<div class="jms-section-title" style="font-weight:600;margin:8px 0 4px 0">'
               f"{html.escape(title)}</div>") if title else ""
    return f'<div class="jms-section" style="{INLINE["section"]}">{heading}{body}</div>'



def html_row(*blocks: str) -> str:
    """Blocks side by side, wrapping onto the next line when the output area is narrow."""
    return f'<div class="jms-row" style="{INLINE["row"]}">{"".join(blocks)}</div>'
