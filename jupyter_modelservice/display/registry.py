"""The registry as a table (:class:`RegistryTable`) and where it lives (:class:`ServiceConfig`)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .base import RichResult
from .tables import format_timestamp, format_value, html_kv_table, html_table, text_kv_table, text_table

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RegistryTable", "ServiceConfig"]

#: (row key, column title) of the registry table, in order.
COLUMNS = (
    ("model_id", "model"),
    ("version", "version"),
    ("model_class", "class"),
    ("task_type", "task"),
    ("status", "status"),
    ("scoring", "scoring"),
    ("train_score", "train"),
    ("validation_score", "validation"),
    ("training_date", "trained"),
    ("file_format", "format"),
)


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

    def _columns(self) -> list[tuple[str, str]]:
        return [(key, title) for key, title in COLUMNS if any(key in r for r in self.rows)]

    def _cells(self) -> tuple[list[str], list[list[Any]]]:
        columns = self._columns()
        headers = [title for _, title in columns]
        rows = [
            [format_timestamp(r.get(key), seconds=False) if key == "training_date" else r.get(key) for key, _ in columns]
            for r in self.rows
        ]
        return headers, rows

    def _title(self) -> str:
        count = len(self.rows)
        title = f"{count} model version{'s' if count != 1 else ''}"
        return f"{title} ({self.description})" if self.description else title

    def summary(self) -> str:
        return self._title()

    def to_text(self) -> str:
        if not self.rows:
            return f"{self._title()}: no model versions match."
        headers, rows = self._cells()
        align = "".join("r" if h in ("version", "train", "validation") else "l" for h in headers)
        return f"{self._title()}\n{text_table(headers, rows, align=align)}"

    def _html_body(self, chart: str) -> str:
        title = f'<div class="jms-title">{html.escape(self._title())}</div>'
        if not self.rows:
            return title + '<div class="jms-muted">No model versions match.</div>'
        headers, rows = self._cells()
        if "status" in headers:
            j = headers.index("status")
            for row in rows:
                status = format_value(row[j])
                row[j] = (
                    f'<span class="jms-badge jms-status-{html.escape(status, quote=True)}">'
                    f"{html.escape(status)}</span>"
                )
            raw = [j]
        else:
            raw = []
        align = "".join("r" if h in ("version", "train", "validation") else "l" for h in headers)
        return title + html_table(headers, rows, align=align, raw_columns=raw)


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
