"""Small builders the registry tests share."""

from __future__ import annotations


def row(model_id="rf", **extra):
    """The columns of a new version of ``model_id`` (a RandomForestClassifier), plus ``extra``."""
    return {"model_id": model_id, "model_class": "RandomForestClassifier", **extra}


def refs(rows):
    """``(model_id, version)`` of each row, in order."""
    return [(r["model_id"], r["version"]) for r in rows]
