"""What the registry browser shows, as plain text and escaped HTML (pure functions).

:func:`table_lines` aligns one page of registry rows in columns for the
browser's list box; :func:`details_html` renders one version's parameters,
scores, provenance and history inside the package's scoped ``.jms`` styles.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from ..display.tables import css, format_value, html_kv_table, html_table

__all__ = ["details_html", "short_date", "table_lines"]

_NBSP = "\u00a0"  # padding that a <select> does not collapse


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def short_date(value: Any) -> str:
    """``2024-05-01T12:34:56.789+00:00`` → ``2024-05-01 12:34``; other values formatted."""
    if isinstance(value, str) and len(value) >= 16 and value[10] == "T":
        return value[:10] + " " + value[11:16]
    return format_value(value)


#: (title, row → cell text, max width, right-aligned) of the table columns.
_COLUMNS = (
    ("model", lambda r: str(r["model_id"]), 28, False),
    ("ver", lambda r: str(r["version"]), 5, True),
    ("class", lambda r: str(r["model_class"]), 28, False),
    ("status", lambda r: str(r["status"]), 10, False),
    ("train", lambda r: format_value(r.get("train_score")), 9, True),
    ("validation", lambda r: format_value(r.get("validation_score")), 10, True),
    ("trained", lambda r: short_date(r.get("training_date")), 16, False),
)


def table_lines(rows: Sequence[Mapping[str, Any]]) -> tuple[str, list[str]]:
    """The header and one line per row, aligned in columns with non-breaking spaces."""
    cells = [[_fit(get(r), cap) for _, get, cap, _ in _COLUMNS] for r in rows]
    widths = [max([len(title)] + [len(c[j]) for c in cells]) for j, (title, *_) in enumerate(_COLUMNS)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if right else v.ljust(w)
                 for v, w, (_, _, _, right) in zip(values, widths, _COLUMNS)]
        return "  ".join(parts).rstrip().replace(" ", _NBSP)

    return line([title for title, *_ in _COLUMNS]), [line(c) for c in cells]


def _flat(value: Any) -> str:
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {format_value(v)}" for k, v in value.items()) or "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value) or "—"
    return format_value(value)


def _section(title: str, items: Mapping[str, Any]) -> str:
    body = html_kv_table({k: _flat(v) for k, v in items.items()}) if items else (
        '<div class="jms-muted">none</div>')
    return (f'<div class="jms-section"><div class="jms-section-title">{html.escape(title)}</div>'
            f"{body}</div>")


def _history(history: Sequence[Mapping[str, Any]], last: int = 8) -> str:
    rows = [
        [str(e.get("at") or "")[:19].replace("T", " "), e.get("event"),
         f"{e.get('from_status') or '—'} → {e.get('to_status') or '—'}", e.get("actor")]
        for e in list(history)[-last:]
    ]
    body = (html_table(["when", "event", "status", "by"], rows, align="llll") if rows
            else '<div class="jms-muted">none</div>')
    return f'<div class="jms-section"><div class="jms-section-title">History</div>{body}</div>'


def details_html(row: Mapping[str, Any], history: Sequence[Mapping[str, Any]] = ()) -> str:
    """The details of one registry row as scoped, escaped HTML."""
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
    for name, value in (row.get("metrics") or {}).items():
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            scores[f"test {name}"] = value
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
        "data": row.get("data_fingerprint"),
        "source": row.get("source"),
        "environment": row.get("environment"),
        "parent": row.get("parent"),
        "tags": row.get("tags"),
        **file_items,
    }
    provenance = {k: v for k, v in provenance.items() if v not in (None, {}, "")}
    sections = (_section("Parameters", row.get("model_params") or {})
                + _section("Scores", scores) + _section("Provenance", provenance)
                + _history(history))
    return (f'<div class="jms jms-details"><style>{css()}</style>{title}{subtitle}'
            f'<div class="jms-row">{sections}</div></div>')
