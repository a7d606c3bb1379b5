"""Evaluations as records: what a row holds, its predictions packed compactly, and the same-data guard.

An evaluation row (`jupyter_modelservice.registry.evaluation_rows`) keeps a
version's metrics on some data, the data's fingerprint
(`jupyter_modelservice.provenance.data_fingerprint` of ``X`` and ``y``), a
digest of the predictions and, when they fit, the predictions themselves:
``y_pred`` (and the class probabilities ``y_score`` when the model gives them)
as a compressed ``.npz`` of plain arrays, read back with
``allow_pickle=False`` (nothing in it can run code) and checked against the
digest. At most `MAX_PREDICTION_BYTES` compressed are kept per row (about 1.3
million rows of binary predictions with probabilities); over that, or when
the labels are Python objects of mixed types, only the digest is kept, the
row says why in ``details["predictions"]``, and a comparison on that data
predicts again.

Stored results are ranked only when they were computed on the same data:
`common_fingerprint` finds the data every version was evaluated on, or
raises `IncompatibleModelsError` naming each version's fingerprints;
`ranking_note` says when registry rows sorted by their training scores are
not a ranking (the scores come from different data or splits).
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..exceptions import IncompatibleModelsError
from ..provenance import data_fingerprint

__all__ = [
    "MAX_PREDICTION_BYTES",
    "common_fingerprint",
    "predictions_of",
    "ranking_note",
    "short_fingerprint",
    "test_record",
]

logger = logging.getLogger(__name__)

#: Compressed bytes of predictions kept with one evaluation row; larger ones keep only their digest.
MAX_PREDICTION_BYTES = 16 * 1024 * 1024


def short_fingerprint(fingerprint: str | None) -> str:
    """``sha256:`` and the first 12 hex digits: enough to tell data sets apart in a message."""
    if not fingerprint:
        return "unknown data"
    algorithm, _, digest = fingerprint.partition(":")
    return f"{algorithm}:{digest[:12]}…" if digest else fingerprint[:20]


def _plain(values: Any) -> np.ndarray | None:
    """``values`` as an array numpy can store without pickle, or None (mixed Python objects)."""
    array = np.asarray(values)
    if array.dtype.hasobject:
        items = array.tolist()
        try:
            converted = np.asarray(items)
        except (TypeError, ValueError):
            return None
        if converted.dtype.hasobject:
            return None
        # numpy turns [1, "a"] into text: stored so, 1 would no longer equal the label it was
        if converted.dtype.kind in "US" and not all(isinstance(v, str) for v in array.flat):
            return None
        return converted
    return array


def _arrays(predictions: Mapping[str, Any]) -> dict[str, np.ndarray] | None:
    y_pred = _plain(predictions["y_pred"])
    if y_pred is None:
        return None
    arrays = {"y_pred": y_pred}
    if predictions.get("y_score") is not None:
        y_score = _plain(predictions["y_score"])
        if y_score is None:
            return None
        arrays["y_score"] = y_score
    return arrays


def _digest(arrays: Mapping[str, Any]) -> str:
    """sha256 over the shape, dtype and bytes of ``y_pred``, then of ``y_score`` when there is one."""
    return data_fingerprint(arrays["y_pred"], arrays.get("y_score"))


def test_record(model_id: str, version: int, task_type: str, fingerprint: str, metrics: Mapping[str, Any],
                predictions: Mapping[str, Any], limit: int | None = None) -> dict[str, Any]:
    """The evaluation row of ``model_id:version`` on test data whose fingerprint is ``fingerprint``.

    ``metrics`` is what `evaluate_estimator` returned (without its
    ``"predictions"``), ``predictions`` its ``y_pred`` / ``y_score`` /
    ``classes``. The predictions are packed when they fit in ``limit``
    (default `MAX_PREDICTION_BYTES`).
    """
    limit = MAX_PREDICTION_BYTES if limit is None else limit
    details: dict[str, Any] = {"classes": list(predictions.get("classes") or [])}
    arrays = _arrays(predictions)
    blob = None
    if arrays is None:
        digest = data_fingerprint(predictions["y_pred"], predictions.get("y_score"))
        details["predictions"] = "not stored: the labels are Python objects of mixed types"
    else:
        digest = _digest(arrays)
        packed = _npz(arrays)
        if len(packed) <= limit:
            blob = packed
        else:
            details["predictions"] = (f"not stored: {len(packed):,} bytes compressed, over the "
                                      f"{limit:,}-byte limit of one evaluation")
    return {"model_id": model_id, "version": version, "kind": "test", "task_type": task_type,
            "data_fingerprint": fingerprint, "n_samples": metrics.get("n_samples"), "metrics": dict(metrics),
            "details": details, "predictions_sha256": digest, "predictions": blob}


def _npz(arrays: Mapping[str, np.ndarray]) -> bytes:
    """A compressed ``.npz`` (what `numpy.load` reads) at zlib level 1: about twice as fast as
    `numpy.savez_compressed` for 2 % more bytes (probabilities barely compress at any level)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


def predictions_of(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The stored predictions of an evaluation row (``y_pred``, ``y_score``, ``classes``), or None.

    None when the row kept none, or when what it kept does not match its
    digest (logged; the caller predicts again).
    """
    blob = record.get("predictions")
    if blob is None:
        return None
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError, KeyError) as err:
        logger.warning("The stored predictions of evaluation %s cannot be read (%s); predicting again.",
                       record.get("evaluation_id"), err)
        return None
    if "y_pred" not in arrays or _digest(arrays) != record.get("predictions_sha256"):
        logger.warning("The stored predictions of evaluation %s do not match their digest; predicting again.",
                       record.get("evaluation_id"))
        return None
    classes = (record.get("details") or {}).get("classes") or []
    return {"y_pred": arrays["y_pred"], "y_score": arrays.get("y_score"), "classes": list(classes)}


def common_fingerprint(records: Mapping[str, Sequence[Mapping[str, Any]]], *, what: str = "rank",
                       data_fingerprint: str | None = None) -> str:
    """The data that every version in ``records`` was evaluated on: the newest such fingerprint.

    ``records`` maps ``"model_id:version"`` to its evaluation rows, newest
    first. With ``data_fingerprint``, that data must be among each version's.
    `IncompatibleModelsError` names each version's fingerprints when no data
    is common to all of them (``what`` says what was refused).
    """
    held = {ref: [r["data_fingerprint"] for r in rows] for ref, rows in records.items()}
    if data_fingerprint is not None:
        missing = [ref for ref, fps in held.items() if data_fingerprint not in fps]
        if not missing:
            return data_fingerprint
        raise IncompatibleModelsError(
            f"Cannot {what} stored results on {short_fingerprint(data_fingerprint)}: "
            f"{', '.join(missing)} {'was' if len(missing) == 1 else 'were'} never evaluated on that data "
            f"({_listing(held, missing)}). Evaluate {'it' if len(missing) == 1 else 'them'} on it first "
            "(compare_models(refs, X_test, y_test) evaluates what is missing and reuses the rest)."
        )
    first, *others = held.values() if held else [[]]
    for fingerprint in first:  # newest first
        if all(fingerprint in fps for fps in others):
            return fingerprint
    raise IncompatibleModelsError(
        f"Cannot {what} stored results computed on different data: {_listing(held, list(held))}. "
        "Results are ranked only on the same data; evaluate every model on one test set "
        "(compare_models(refs, X_test, y_test) reuses what is already stored for that data)."
    )


def _listing(held: Mapping[str, Sequence[str]], refs: Sequence[str]) -> str:
    parts = []
    for ref in refs:
        fps = list(dict.fromkeys(held[ref]))
        shown = ", ".join(short_fingerprint(fp) for fp in fps[:3]) + (f" and {len(fps) - 3} more" if len(fps) > 3 else "")
        parts.append(f"{ref} on {shown}" if fps else f"{ref} never evaluated")
    return "; ".join(parts)


#: Registry columns holding scores measured at training time, on each version's own split.
TRAINING_SCORES = ("train_score", "validation_score")


def ranking_note(rows: Sequence[Mapping[str, Any]], order_by: str) -> str | None:
    """Why registry rows sorted by a training score are not a ranking, or None when they are one.

    Train and validation scores are comparable only between versions trained
    on the same data (``data_fingerprint``) with the same split
    (``training_config``) and scoring. When the rows with a score span
    several of those, the note names the fingerprints.
    """
    column = order_by.lstrip("-")
    if column not in TRAINING_SCORES:
        return None
    groups: dict[tuple[Any, ...], int] = {}
    for row in rows:
        if row.get(column) is None:
            continue
        key = (row.get("data_fingerprint"), repr(row.get("training_config")), row.get("scoring"))
        groups[key] = groups.get(key, 0) + 1
    if len(groups) < 2:
        return None
    counts: dict[Any, int] = {}
    for (fingerprint, _, _), n in groups.items():
        counts[fingerprint] = counts.get(fingerprint, 0) + n
    listing = ", ".join(f"{short_fingerprint(fp)} ×{n}" for fp, n in counts.items())
    what = column.replace("_", " ")
    if len(counts) == 1:
        where = f"different splits or scorings of the same data ({listing})"
    else:
        splits = " (and different splits or scorings)" if len(counts) < len(groups) else ""
        where = f"{len(counts)} different data sets{splits}: {listing}"
    return f"Not a ranking: these {what}s were computed on {where}. Compare versions on one test set to rank them."
