"""What differs between two model versions: :class:`DiffResult` (``%diff``, ``ModelService.diff``)."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..metric_names import METRIC_LABELS
from .base import RichResult
from .comparison import _p
from .tables import format_value, html_section, html_table, text_table

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DiffResult"]

#: (key of ``ModelService.diff``'s dict, section title, what one row is), in display order.
SECTIONS = (
    ("model", "Class", "class field"),
    ("params", "Parameters", "parameter"),
    ("data", "Training data", "data field"),
    ("environment", "Library versions", "library version"),
    ("metrics", "Stored scores (same data only)", "stored score"),
)
#: Rows whose predictions disagree listed by index; the rest are counted.
SHOWN_ROWS = 20
_WIDTH = 48


def _cell(value: Any) -> Any:
    """A value as one short cell: numbers formatted, containers as compact JSON, long text cut."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = value if isinstance(value, str) else json.dumps(value, default=str, separators=(", ", ": "))
    return text if len(text) <= _WIDTH else text[: _WIDTH - 1] + "…"


class DiffResult(RichResult):
    """The differences between two versions, section by section; nothing that is equal is shown.

    Parameters
    ----------
    data : dict
        What ``ModelService.diff`` returns.

    Attributes
    ----------
    data : dict
    """

    _kind = "diff"

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = dict(data)

    @property
    def params(self) -> list[tuple[str, Any, Any]]:
        """``(name, a, b)`` of the parameters that differ."""
        return list(self.data.get("params") or [])

    def sections(self) -> list[tuple[str, list[tuple[str, Any, Any]]]]:
        """``(title, rows)`` of each non-empty section of differences."""
        return [(title, list(self.data.get(key) or [])) for key, title, _ in SECTIONS if self.data.get(key)]

    def frame(self) -> pd.DataFrame:
        """Every difference shown, a row each: ``section`` (as titled), ``name``, and the values in
        ``a`` and ``b`` (the two references are in ``attrs``). The prediction and metric tests are in
        ``data``."""
        import pandas as pd

        rows = [{"section": title, "name": name, "a": a, "b": b}
                for title, section in self.sections() for name, a, b in section]
        frame = pd.DataFrame(rows, columns=["section", "name", "a", "b"])
        frame.attrs.update(a=self.data.get("a"), b=self.data.get("b"))
        return frame

    def summary(self) -> str:
        counts = [f"{len(self.data[key])} {noun}{'s' if len(self.data[key]) != 1 else ''}"
                  for key, _, noun in SECTIONS if self.data.get(key)]
        verb = "differs" if sum(len(self.data[key]) for key, _, _ in SECTIONS if self.data.get(key)) == 1 else "differ"
        text = f"{self.data.get('a')} vs {self.data.get('b')}: " + (f"{', '.join(counts)} {verb}" if counts
                                                                  else "no stored difference")
        if "disagreements" in self.data:
            text += f"; predictions disagree on {self.data['disagreements']} of {self.data['n_rows']} rows"
        return text

    # -- pieces --------------------------------------------------------------
    def _headers(self) -> list[str]:
        return ["", str(self.data.get("a")), str(self.data.get("b"))]

    def _disagreement_line(self) -> str:
        if "disagreements" not in self.data:
            return ""
        count, n = self.data["disagreements"], self.data["n_rows"]
        if count == 0:
            return f"Predictions agree on all {n} rows."
        index = list(self.data.get("disagreement_index") or [])
        shown = ", ".join(str(i) for i in index[:SHOWN_ROWS]) + (f", … ({count - SHOWN_ROWS} more)"
                                                                  if count > SHOWN_ROWS else "")
        return f"Predictions disagree on {count} of {n} rows ({100 * count / n:.1f} %): {shown}."

    def _metric_table(self) -> tuple[list[str], list[list[Any]]] | None:
        differences = self.data.get("metric_differences")
        if not differences:
            return None
        level = round(100 * (1 - float(self.data.get("alpha", 0.05))))
        headers = ["metric", str(self.data.get("a")), str(self.data.get("b")), "b − a", f"{level}% CI of b − a",
                   "p"]
        rows = [[METRIC_LABELS.get(d["metric"], d["metric"]), d["a"], d["b"], d["difference"],
                 _interval(d["ci_low"], d["ci_high"]), _p(d["p_value"])] for d in differences]
        return headers, rows

    def _test_note(self) -> str:
        differences = self.data.get("metric_differences") or []
        if not differences:
            return ""
        return (f"On {self.data.get('n_samples')} test rows, the same paired bootstrap resamples for every metric; "
                "p: exact McNemar for accuracy, paired bootstrap otherwise (not adjusted across metrics).")

    # -- renderings -----------------------------------------------------------
    def to_text(self) -> str:
        lines = [f"Differences between {self.data.get('a')} and {self.data.get('b')}"]
        sections = self.sections()
        if not sections:
            lines.append("No differences in class, parameters, training data, library versions or stored scores.")
        for title, rows in sections:
            lines += ["", title, text_table(self._headers(), _cells(rows), align="lll")]
        disagreement = self._disagreement_line()
        if disagreement:
            lines += ["", disagreement]
        table = self._metric_table()
        if table is not None:
            lines += ["", "Test metrics", text_table(*table, align="lrrrrr"), self._test_note()]
        for note in self.data.get("notes") or []:
            lines.append(f"Note: {note}")
        return "\n".join(lines)

    def _html_body(self, chart: str) -> str:
        parts = [f'<div class="jms-title">Differences between {html.escape(str(self.data.get("a")))} and '
                 f'{html.escape(str(self.data.get("b")))}</div>']
        sections = self.sections()
        if not sections:
            parts.append('<div class="jms-subtitle">No differences in class, parameters, training data, '
                         "library versions or stored scores.</div>")
        for title, rows in sections:
            parts.append(html_section(title, html_table(self._headers(), _cells(rows), align="lll")))
        disagreement = self._disagreement_line()
        if disagreement:
            parts.append(f'<div class="jms-verdict">{html.escape(disagreement)}</div>')
        table = self._metric_table()
        if table is not None:
            parts.append(html_section("Test metrics", html_table(*table, align="lrrrrr")
                                      + f'<div class="jms-subtitle">{html.escape(self._test_note())}</div>'))
        for note in self.data.get("notes") or []:
            parts.append(f'<div class="jms-subtitle">{html.escape(note)}</div>')
        return "".join(parts) + chart


def _cells(rows: Sequence[tuple[str, Any, Any]]) -> list[list[Any]]:
    return [[name, format_value(_cell(a)) if not isinstance(_cell(a), str) else _cell(a),
             format_value(_cell(b)) if not isinstance(_cell(b), str) else _cell(b)] for name, a, b in rows]


def _interval(low: Any, high: Any) -> str:
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return "—"
    return f"{low:+.4f} to {high:+.4f}"
