"""The columns a registry row is shown in, in one place.

Every view of registry rows — the notebook's registry table (text and HTML),
the registry browser's list and details, the comparison panel's choices and
``modelservice list`` — picks its columns here by key, so a column has one
title, one formatter and one alignment wherever it appears. Pure text (no HTML).

>>> row = {"model_id": "rf", "version": 2, "validation_score": 0.91234, "training_date": "2026-05-01T12:34:56+00:00"}
>>> [COLUMNS[key].text(row) for key in ("ref", "validation_score", "training_date")]
['rf:2', '0.9123', '2026-05-01 12:34']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .formatting import MISSING, format_bytes, format_timestamp, format_value

__all__ = ["BROWSER_LIST", "CLI_LIST", "COLUMNS", "DETAILS", "FILE_DETAILS", "REGISTRY_TABLE", "Column", "cells", "fit", "pick"]

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Column:
    """How one value of a registry row is shown.

    Attributes
    ----------
    key : str
        The row's key (or a name for a cell made of several keys, like ``ref``).
    title : str
        The column's heading (label in a details view).
    text : callable
        ``row -> str``, the cell's text.
    align : {"l", "r"}
        Left for text, right for numbers.
    width : int
        The widest cell a fixed-width view (the browser's list) shows; longer
        ones are cut with ``…``.
    reads : tuple of str
        The row keys the cell is made of, when not just ``key``.
    """

    key: str
    title: str
    text: Callable[[Row], str]
    align: str = "l"
    width: int = 28
    reads: tuple[str, ...] = ()

    def shown_for(self, rows: Sequence[Row]) -> bool:
        """Whether some row has what this column shows."""
        return any(key in row for key in (self.reads or (self.key,)) for row in rows)


def _value(key: str, formatter: Callable[[Any], str] = format_value) -> Callable[[Row], str]:
    def text(row: Row) -> str:
        return formatter(row.get(key))

    return text


def _date(value: Any) -> str:
    return format_value(format_timestamp(value, seconds=False))


def _file(row: Row) -> str:
    state = row.get("artifact_state")
    if state == "ready":
        return f"{row.get('file_format')} {format_bytes(row.get('file_bytes'))}"
    return {"pending": "save incomplete", "removed": "removed by gc"}.get(str(state), MISSING)


def _seconds(value: Any) -> str:
    return MISSING if value is None else f"{value:.3f} s"


def _size(value: Any) -> str:
    return f"{value:,} bytes" if isinstance(value, int) else format_value(value)


def _digest(value: Any) -> str:
    return f"{value[:16]}…" if isinstance(value, str) and len(value) > 16 else format_value(value)


#: Every column, by key.
COLUMNS: dict[str, Column] = {column.key: column for column in (
    Column("ref", "ref", lambda row: f"{row['model_id']}:{row['version']}", width=40, reads=("model_id", "version")),
    Column("model_id", "model", _value("model_id")),
    Column("version", "version", _value("version"), "r", 7),
    Column("model_class", "class", _value("model_class")),
    Column("task_type", "task", _value("task_type"), width=14),
    Column("status", "status", _value("status"), width=10),
    Column("scoring", "scoring", _value("scoring"), width=20),
    Column("train_score", "train", _value("train_score"), "r", 10),
    Column("validation_score", "validation", _value("validation_score"), "r", 10),
    Column("training_date", "trained", _value("training_date", _date), width=16),
    Column("file_format", "format", _value("file_format"), width=8),
    Column("file", "file", _file, width=20, reads=("artifact_state",)),
    Column("training_samples", "training samples", _value("training_samples"), "r"),
    Column("validation_samples", "validation samples", _value("validation_samples"), "r"),
    Column("feature_count", "features", _value("feature_count"), "r"),
    Column("fit_seconds", "fit time", _value("fit_seconds", _seconds), "r"),
    Column("data_fingerprint", "data", _value("data_fingerprint")),
    Column("source", "source", _value("source")),
    Column("file_path", "file", _value("file_path")),
    Column("file_bytes", "size", _value("file_bytes", _size), "r"),
    Column("file_sha256", "sha256", _value("file_sha256", _digest)),
)}

#: The notebook's registry table (``%models``, ``ModelService.list_models`` shown as a table).
REGISTRY_TABLE = ("model_id", "version", "model_class", "task_type", "status", "scoring", "train_score",
                  "validation_score", "training_date", "file_format")
#: The registry browser's list (it adds a ``differs`` column of its own).
BROWSER_LIST = ("model_id", "version", "model_class", "status", "train_score", "validation_score", "training_date")
#: ``modelservice list`` (titles in capitals there).
CLI_LIST = ("ref", "status", "model_class", "validation_score", "file", "training_date")
#: The provenance items of the browser's details of one version, in order ...
DETAILS = ("training_samples", "validation_samples", "feature_count", "fit_seconds", "data_fingerprint", "source")
#: ... and its file's, shown last.
FILE_DETAILS = ("file_path", "file_format", "file_bytes", "file_sha256")


def pick(keys: Iterable[str], rows: Sequence[Row] | None = None) -> list[Column]:
    """The columns of ``keys``; given ``rows``, only those some row has a value for."""
    chosen = [COLUMNS[key] for key in keys]
    if rows is None:
        return chosen
    return [c for c in chosen if c.shown_for(rows)]


def cells(columns: Sequence[Column], rows: Iterable[Row]) -> list[list[str]]:
    """The text of each column for each row."""
    return [[column.text(row) for column in columns] for row in rows]


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in ``…`` when cut.

    >>> fit("RandomForestClassifier", 10)
    'RandomFor…'
    """
    return text if len(text) <= width else text[: width - 1] + "…"
