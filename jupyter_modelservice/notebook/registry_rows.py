"""What the registry browser shows, as plain text and escaped HTML (pure functions).

:func:`table_lines` aligns one page of registry rows in columns for the
browser's list box; :func:`details_html` renders one version's parameters,
scores, provenance and history inside the package's scoped ``.jms`` styles.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from ..display.tables import INLINE, css, html_kv_table, html_row, html_section, html_table
from ..formatting import format_timestamp, format_value
from ..metric_names import CLASSIFICATION_METRICS, METRIC_LABELS, REGRESSION_METRICS

__all__ = ["details_html", "differing_params", "short_date", "table_lines"]

_NBSP = "\u00a0"  # padding that a <select> does not collapse


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def short_date(value: Any) -> str:
    """``2024-05-01T12:34:56.789+00:00`` → ``2024-05-01 12:34``; other values formatted."""
    return format_value(format_timestamp(value, seconds=False))


#: (title, row → cell text, max width, right-aligned) of the table columns.
_COLUMNS = (
    ("model", lambda r: str(r["model_id"]), 28, False),
    ("ver", lambda r: str(r["version"]), 5, True),
    ("class", lambda r: str(r["model_class"]), 28, False),
    ("status", lambda r: str(r["status"]), 10, False),
    ("train", lambda r: format_value(r.get("train_score")), 9, True),
    ("validation", lambda r: format_value(r.get("validation_score")), 10, True),
    ("trained", lambda r: short_date(r.get("training_date")), 16, False),
    ("differs", lambda r: r.get("_differs", ""), 36, False),
)


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
    return _fit(text, 16)


def table_lines(rows: Sequence[Mapping[str, Any]]) -> tuple[str, list[str]]:
    """The header and one line per row, aligned in columns with non-breaking spaces.

    The last column, ``differs``, names the parameters that tell the versions of one id apart.
    """
    rows = [{**r, "_differs": d} for r, d in zip(rows, differing_params(rows))]
    columns = _COLUMNS if any(r["_differs"] for r in rows) else _COLUMNS[:-1]
    cells = [[_fit(get(r), cap) for _, get, cap, _ in columns] for r in rows]
    widths = [max([len(title)] + [len(c[j]) for c in cells]) for j, (title, *_) in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if right else v.ljust(w)
                 for v, w, (_, _, _, right) in zip(values, widths, columns)]
        return "  ".join(parts).rstrip().replace(" ", _NBSP)

    return line([title for title, *_ in columns]), [line(c) for c in cells]


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


def details_html(row: Mapping[str, Any], history: Sequence[Mapping[str, Any]] = (),
                 lineage: Sequence[str] = ()) -> str:
    """The details of one registry row as scoped, escaped HTML; ``lineage`` is the chain of
    ``"id:N"`` from this version back to its root (`ModelService.lineage`)."""
    ref = f"{row['model_id']}:{row['version']}"
    status = str(row.get("status"))
    title = (f'<div class="jms-title">{html.escape(ref)} — {html.escape(str(row["model_class"]))} '
             f'<span class="jms-badge jms-status-{html.escape(status, quote=True)}">'
             f"{html.escape(status)}</span></div>")
    subtitle = (f'<div class="jms-subtitle">{html.escape(str(row.get("task_type") or "task unknown"))}'
                f", trained {html.escape(short_date(row.get('training_date')))}</div>")
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
    file_items: dict[str, Any] = {}
    if row.get("file_path"):
        size = row.get("file_bytes")
        file_items = {
            "file": row["file_path"],
            "format": row.get("file_format"),
            "size": f"{size:,} bytes" if isinstance(size, int) else size,
            "sha256": (row.get("file_sha256") or "")[:16] + "…",
        }
    provenance = {
        "training samples": row.get("training_samples"),
        "validation samples": row.get("validation_samples"),
        "features": row.get("feature_count"),
        "fit time": f"{row['fit_seconds']:.3f} s" if row.get("fit_seconds") is not None else None,
        "test samples": tested.get("n_samples"),
        "data": row.get("data_fingerprint"),
        "source": row.get("source"),
        "environment": row.get("environment"),
        "lineage": " ← ".join(lineage) if len(lineage) > 1 else row.get("parent"),
        "tags": row.get("tags"),
        **file_items,
    }
    provenance = {k: v for k, v in provenance.items() if v not in (None, {}, "")}
    sections = html_row(_section("Parameters", row.get("model_params") or {}), _section("Scores", scores),
                        _section("Provenance", provenance, wrap=True), _history(history))
    return (f'<div class="jms jms-details" style="{INLINE["section"]}"><style>{css()}</style>{title}{subtitle}'
            f"{sections}</div>")
