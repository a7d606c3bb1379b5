"""The registry as a table (:class:`RegistryTable`) and where it lives (:class:`ServiceConfig`)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..columns import REGISTRY_TABLE, Column, cells, pick
from .base import RichResult
from .tables import html_kv_table, html_table, status_badge, text_kv_table, text_table

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RegistryTable", "ServiceConfig"]

class RegistryTable(RichResult):
    """Registered model versions, one row each.

    Parameters
    ----------
    rows : sequence of mapping
        What ``ModelService.list_models`` returns.
    description : str, optional
        The filters that produced the rows (shown under the title).

    Attributes
    ----------
    rows : list of dict
        The service's rows, unchanged.
    """

    _kind = "registry"

    def __init__(self, rows: Sequence[Mapping[str, Any]], description: str = "") -> None:
        self.rows = [dict(r) for r in rows]
        self.description = description

    @property
    def data(self) -> list[dict[str, Any]]:
        """Same as ``rows``."""
        return self.rows

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame (every key of the service's rows is a column)."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def _cells(self) -> tuple[list[Column], list[str], list[list[str]]]:
        columns = pick(REGISTRY_TABLE, self.rows)
        return columns, [c.title for c in columns], cells(columns, self.rows)

    def _title(self) -> str:
        count = len(self.rows)
        title = f"{count} model version{'s' if count != 1 else ''}"
        return f"{title} ({self.description})" if self.description else title

    def summary(self) -> str:
        return self._title()

    def to_text(self) -> str:
        if not self.rows:
            return f"{self._title()}: no model versions match."
        columns, headers, rows = self._cells()
        return f"{self._title()}\n{text_table(headers, rows, align=''.join(c.align for c in columns))}"

    def _html_body(self, chart: str) -> str:
        title = f'<div class="jms-title">{html.escape(self._title())}</div>'
        if not self.rows:
            return title + '<div class="jms-muted">No model versions match.</div>'
        columns, headers, rows = self._cells()
        keys = [c.key for c in columns]
        raw = [keys.index("status")] if "status" in keys else []
        for row in rows:
            for j in raw:
                row[j] = status_badge(row[j])
        return title + html_table(headers, rows, align="".join(c.align for c in columns), raw_columns=raw)


class ServiceConfig(RichResult):
    """Where the notebook's registry lives: database and models directory.

    Parameters
    ----------
    settings : mapping
        ``db_type``, ``db_url`` (already stripped of any password) and
        ``models_directory``.
    """

    _kind = "config"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.data = dict(settings)

    def frame(self) -> pd.DataFrame:
        """The settings shown, as one row: ``db_type``, ``db_url``, ``models_directory``."""
        import pandas as pd

        return pd.DataFrame([{key: self.data.get(key) for key in ("db_type", "db_url", "models_directory")}])

    def _items(self) -> dict[str, Any]:
        return {
            "database": self.data.get("db_type"),
            "database URL": self.data.get("db_url") or "(in the models directory)",
            "models directory": self.data.get("models_directory"),
        }

    def summary(self) -> str:
        return f"{self.data.get('db_type')} registry in {self.data.get('models_directory')}"

    def to_text(self) -> str:
        return "Model registry\n" + text_kv_table(self._items())

    def _html_body(self, chart: str) -> str:
        return f'<div class="jms-title">Model registry</div>{html_kv_table(self._items())}'
