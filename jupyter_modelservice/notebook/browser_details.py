"""The details area of the registry browser: one version's card and importance chart.

Kept apart from :mod:`.browser` (which owns the list and the actions): it reads
the version's history and importances and writes them into an ``Output``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..exceptions import ModelServiceError, NoImportanceWarning
from .panel_base import png_bundle, show_bundle
from .registry_rows import details_html

if TYPE_CHECKING:
    from ..service import ModelService

__all__ = ["VersionDetails"]


class VersionDetails:
    """Show the details of the selected versions in ``out``.

    Parameters
    ----------
    service : ModelService
    out : ipywidgets.Output
        Where the card and the chart go (replaced on every `show`).
    """

    def __init__(self, service: ModelService, out: widgets.Output) -> None:
        self.service = service
        self.out = out
        self._importance: dict[tuple[str, str | None], Any] = {}

    def show(self, refs: Sequence[str], rows: Mapping[str, Mapping[str, Any]]) -> None:
        """The card of one selected version (``rows`` holds it), a list for several, nothing for none."""
        self.out.outputs = ()
        if not refs:
            return
        if len(refs) > 1:
            self.out.append_stdout(f"{len(refs)} versions selected: {', '.join(refs)}\n")
            return
        ref = refs[0]
        row = rows[ref]  # the browser has just read it
        history = self.service.model_history(ref)
        lineage = self.service.lineage(ref) if row.get("parent") else [ref]
        show_bundle(self.out, {"text/html": details_html(self.service.files.public(row), history, lineage),
                               "text/plain": f"{ref} ({row['model_class']}, {row['status']})"})
        chart = self._importance_chart(ref, row)
        if isinstance(chart, str):
            self.out.append_stdout(chart + "\n")
        elif chart is not None:
            show_bundle(self.out, chart)

    def _importance_chart(self, ref: str, row: Mapping[str, Any]) -> dict[str, str] | str | None:
        """The importance chart of ``ref`` (cached per file), a reason it has none, or None."""
        key = (ref, row.get("file_sha256"))
        if key not in self._importance:
            self._importance[key] = self._draw_importance(ref, row)
        return self._importance[key]

    def _draw_importance(self, ref: str, row: Mapping[str, Any]) -> dict[str, str] | str | None:
        from ..display import ImportanceResult

        try:
            with warnings.catch_warnings():
                # "no importances" is reported below; other warnings reach the message line
                warnings.simplefilter("ignore", NoImportanceWarning)
                importances = self.service.get_feature_importance(model_id=ref)
        except ModelServiceError as err:
            return f"No importance chart: {err}"
        if not importances:
            return f"No importance chart: {row['model_class']} has no feature importances or coefficients."
        result = ImportanceResult(importances, ref=ref, top=15)
        png = result.to_png()
        return None if png is None else png_bundle(png, result.to_text())
