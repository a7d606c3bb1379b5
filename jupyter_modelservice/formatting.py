"""How values read in tables and messages, in one place: scores and other numbers, timestamps,
file sizes, counts. Pure text (no HTML): the HTML tables, the registry browser and panels and the
``modelservice`` command all format through these."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["MISSING", "aligned", "count", "format_bytes", "format_timestamp", "format_value"]

#: What a missing value (None, NaN) reads as.
MISSING = "—"


def count(n: int, noun: str) -> str:
    """``"1 model"``, ``"3 models"``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def format_value(value: Any, digits: int = 4) -> str:
    """Format one cell: floats to ``digits`` decimals (fewer from 10 up), None as a dash.

    Parameters
    ----------
    value : Any
        The value to show.
    digits : int, default 4
        Decimals for floats smaller than 10 in magnitude; larger ones get 2,
        and 1 from 1000 up.

    Returns
    -------
    str

    Examples
    --------
    >>> format_value(0.956140350877193)
    '0.9561'
    >>> format_value(54.7), format_value(2900.17337)
    ('54.70', '2,900.2')
    >>> format_value(None)
    '—'
    """
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        value = float(value)
        if math.isnan(value):
            return MISSING
        if abs(value) >= 1000:
            return f"{value:,.1f}"
        if abs(value) >= 10:
            return f"{value:.2f}"
        return f"{value:.{digits}f}"
    return str(value)


def format_timestamp(value: Any, seconds: bool = True) -> Any:
    """``2024-05-01T12:34:56.789+00:00`` → ``2024-05-01 12:34:56`` (other values unchanged).

    >>> format_timestamp("2024-05-01T12:34:56.789+00:00", seconds=False)
    '2024-05-01 12:34'
    """
    if isinstance(value, str) and len(value) >= 19 and value[10] == "T":
        return value[:10] + " " + value[11:19 if seconds else 16]
    return value


def format_bytes(n: Any) -> str:
    """A file size in binary units: ``"512 bytes"``, ``"3.4 MiB"``; ``"?"`` when unknown.

    >>> format_bytes(512), format_bytes(3_565_158), format_bytes(None)
    ('512 bytes', '3.4 MiB', '?')
    """
    if n is None:
        return "?"
    size = float(n)
    if size < 1024:
        return f"{int(size):,} bytes"
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024 or unit == "GiB":
            break
    return f"{size:.1f} {unit}"


def aligned(lines: Sequence[Sequence[str]], align: str) -> list[str]:
    """Text cells padded into columns two spaces apart, one ``"l"`` or ``"r"`` per column in ``align``.

    >>> aligned([["model", "score"], ["rf", "0.95"]], "lr")
    ['model  score', 'rf      0.95']
    """
    widths = [max(len(line[j]) for line in lines) for j in range(len(align))]
    return ["  ".join(text.rjust(w) if a == "r" else text.ljust(w) for text, w, a in zip(line, widths, align)).rstrip()
            for line in lines]
