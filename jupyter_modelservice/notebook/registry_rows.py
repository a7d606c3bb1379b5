"""What the registry browser shows, as plain text and escaped HTML (pure functions).

:func:`table_lines` aligns one page of registry rows in columns for the
browser's list box; :func:`details_html` renders one version's parameters,
scores, provenance and history inside the package's scoped ``.jms`` styles.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from ..columns import BROWSER_LIST, COLUMNS, DETAILS, FILE_DETAILS, Column, cells, fit, pick
from ..display.tables import INLINE, css, html_kv_table, html_row, html_section, html_table, status_badge
from ..formatting import aligned, format_timestamp, format_value
from ..metric_names import CLASSIFICATION_METRICS, METRIC_LABELS, REGRESSION_METRICS

__all__ = ["details_html", "differing_params", "table_lines"]

_NBSP = "\u00a0"  # padding that a <select> does not collapse


#: The column naming the parameters that tell the versions of one id apart.
_DIFFERS = Column("differs", "differs", lambda r: str(r.get("_differs", "")), width=36)


def differing_params(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Per row, the parameters that tell it apart from the other versions of its id among ``rows``.

    ``n_estimators=300 max_depth=4`` for a version whose id has other rows with
    other values of those parameters; ``""`` for an id with one row (or
    versions whose parameters are all equal).

    >>> differing_params([{"model_id": "rf", "model_params": {"n": 1, "d": 2}},
    ...                   {"model_id": "rf", "model_params": {"n": 3, "d": 2}}, {"model_id": "lr"}])
    ['n=1', 'n=3', '']
    """
    by_id: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_id.setdefault(str(row["model_id"]), []).append(row.get("model_params") or {})
    differ = {}
    for model_id, versions in by_id.items():
        keys = dict.fromkeys(k for params in versions for k in params)
        differ[model_id] = [k for k in keys if len({repr(p.get(k)) for p in versions}) > 1]
    return [" ".join(f"{k}={_short(r.get('model_params', {}).get(k))}" for k in differ[str(r["model_id"])])
            for r in rows]


def _short(value: Any) -> str:
    text = format_value(value) if isinstance(value, float) else repr(value) if isinstance(value, str) else str(value)
    return fit(text, 16)


def table_lines(rows: Sequence[Mapping[str, Any]]) -> tuple[str, list[str]]:
    """The header and one line per row, aligned in columns with non-breaking spaces.

    The last column, ``differs``, names the parameters that tell the versions of one id apart.
    """
    rows = [{**r, "_differs": d} for r, d in zip(rows, differing_params(rows))]
    columns = [*pick(BROWSER_LIST), *([_DIFFERS] if any(r["_differs"] for r in rows) else [])]
    body = [[c.title for c in columns], *([fit(text, c.width) for text, c in zip(line, columns)]
                                          for line in cells(columns, rows))]
    lines = [line.replace(" ", _NBSP) for line in aligned(body, "".join(c.align for c in columns))]
    return lines[0], lines[1:]


def _flat(value: Any) -> str:
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {format_value(v)}" for k, v in value.items()) or "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value) or "—"
    return format_value(value)


def _section(title: str, items: Mapping[str, Any], wrap: bool = False) -> str:
    body = html_kv_table({k: _flat(v) for k, v in items.items()}, wrap=wrap) if items else (
        '<div class="jms-muted">none</div>')
    return html_section(title, body)


def _history(history: Sequence[Mapping[str, Any]], last: int = 8) -> str:
    rows = [
        [format_timestamp(str(e.get("at") or "")), e.get("event"),
         f"{e.get('from_status') or '—'} → {e.get('to_status') or '—'}", e.get("actor")]
        for e in list(history)[-last:]
    ]
    body = (html_table(["when", "event", "status", "by"], rows, align="llll") if rows
            else '<div class="jms-muted">none</div>')
    return html_section("History", body)


#: The metrics a test evaluation records (the other keys of ``metrics`` describe it: task, samples, ...).
_TEST_METRICS = (*CLASSIFICATION_METRICS, *REGRESSION_METRICS)


def _items(keys: Sequence[str], row: Mapping[str, Any]) -> dict[str, str]:
    return {column.title: column.text(row) for column in pick(keys) if row.get(column.key) is not None}


def details_html(row: Mapping[str, Any], history: Sequence[Mapping[str, Any]] = (),
                 lineage: Sequence[str] = ()) -> str:
    """The details of one registry row as scoped, escaped HTML; ``lineage`` is the chain of
    ``"id:N"`` from this version back to its root (`ModelService.lineage`)."""
    ref = f"{row['model_id']}:{row['version']}"
    status = str(row.get("status"))
    title = (f'<div class="jms-title">{html.escape(ref)} — {html.escape(str(row["model_class"]))} '
             f"{status_badge(status)}</div>")
    subtitle = (f'<div class="jms-subtitle">{html.escape(str(row.get("task_type") or "task unknown"))}'
                f", trained {html.escape(COLUMNS['training_date'].text(row))}</div>")
    scoring = row.get("scoring") or "score"
    scores: dict[str, Any] = {
        f"train {scoring}": row.get("train_score"),
        f"validation {scoring}": row.get("validation_score"),
    }
    cv = row.get("cv_scores") or {}
    if cv:
        scores[f"CV {cv.get('scoring') or scoring}"] = (
            f"{format_value(cv.get('mean_score'))} ± {format_value(cv.get('std_score'))} "
            f"({cv.get('cv_folds', len(cv.get('cv_scores') or []))} folds)")
    tested = row.get("metrics") or {}
    for name in _TEST_METRICS:
        value = tested.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            scores[f"test {METRIC_LABELS.get(name, name)}"] = value
    provenance = {
        **_items(DETAILS, row),
        "test samples": tested.get("n_samples"),
        "environment": row.get("environment"),
        "lineage": " ← ".join(lineage) if len(lineage) > 1 else row.get("parent"),
        "tags": row.get("tags"),
        **(_items(FILE_DETAILS, row) if row.get("file_path") else {}),
    }
    provenance = {k: v for k, v in provenance.items() if v not in (None, {}, "")}
    sections = html_row(_section("Parameters", row.get("model_params") or {}), _section("Scores", scores),
                        _section("Provenance", provenance, wrap=True), _history(history))
    return (f'<div class="jms jms-details" style="{INLINE["section"]}"><style>{css()}</style>{title}{subtitle}'
            f"{sections}</div>")
