"""Counters the hardening tests fill in and the summary prints (names tried, kills, writers)."""

from __future__ import annotations

from collections import Counter

FIGURES: Counter[str] = Counter()

LINES = (
    ("hostile names tried", "names_tried", "escapes", "escapes"),
    ("valid generated names driven through the API", "valid_names", None, None),
    ("hostile search strings tried", "searches_tried", "search_mismatches", "wrong results"),
    ("SIGKILLs during save_model", "kills", "inconsistent", "inconsistent states"),
    ("concurrent train+save", "writer_saves", "writer_errors", "errors"),
)


def summary() -> list[str]:
    """One line per figure that some test recorded."""
    out = []
    for label, key, bad_key, bad_label in LINES:
        if key not in FIGURES:
            continue
        line = f"{label}: {FIGURES[key]}"
        if bad_key:
            line += f", {bad_label}: {FIGURES[bad_key]}"
        out.append(line)
    if "writers" in FIGURES:
        out.append(f"writers x saves: {FIGURES['writers']} x {FIGURES['saves_per_writer']}, lost versions: "
                   f"{FIGURES['lost_versions']}, duplicate versions: {FIGURES['duplicate_versions']}")
    return out
