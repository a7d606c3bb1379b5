"""Statements on ``evaluations``: one row per evaluation of a version (test data or cross-validation).

Pure SQL on a connection of the current transaction; `RegistryEvaluations`,
part of `Registry`, opens it and takes the locks. Rows are never changed after they are written: a new
evaluation is a new row, and the newest row of a version on some data is the
one that counts. What goes into a row is built by
`jupyter_modelservice.evaluation.records`.

``evaluation_resamples`` caches, per evaluation, the paired-bootstrap values of
one metric under one resampling key ``(metric, n_bootstrap, random_state,
scheme)``: derived data, inserted once, never changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..exceptions import InvalidInputError
from .engine import actor, utcnow
from .schema import evaluation_resamples, evaluations

__all__ = ["KINDS", "RECORD_FIELDS", "RegistryEvaluations", "ResampleKey", "insert", "insert_resamples", "select",
           "select_resamples"]

#: ``(metric, n_bootstrap, random_state, scheme)``: what a set of kept bootstrap values was drawn with.
ResampleKey = tuple[str, int, int, int]

#: What an evaluation row records: ``test`` (evaluate / compare on test data) or ``cv``.
KINDS = ("test", "cv")
#: The fields a caller supplies (``evaluated_at`` and ``actor`` are filled in here).
RECORD_FIELDS = ("model_id", "version", "kind", "task_type", "data_fingerprint", "n_samples", "metrics",
                 "details", "predictions_sha256", "predictions")
_LISTED = [c for c in evaluations.columns if c.name != "predictions"]


def insert(conn: sa.Connection, record: Mapping[str, Any]) -> int:
    """Insert one evaluation row; return its ``evaluation_id``."""
    unknown = set(record) - set(RECORD_FIELDS)
    if unknown:
        raise InvalidInputError(f"Unknown evaluation field(s) {sorted(unknown)}; use {', '.join(RECORD_FIELDS)}.")
    if record.get("kind") not in KINDS:
        raise InvalidInputError(f"An evaluation's kind is one of {KINDS}, not {record.get('kind')!r}.")
    values = {**record, "evaluated_at": utcnow(), "actor": actor()}
    key = conn.execute(evaluations.insert().values(values)).inserted_primary_key
    assert key is not None  # an INSERT of one row always has one
    return int(key[0])


def select(conn: sa.Connection, model_id: str, version: int | None = None, *, kind: str | None = None,
           data_fingerprint: str | None = None, with_predictions: bool = False,
           limit: int | None = None) -> list[dict[str, Any]]:
    """Evaluation rows of ``model_id`` (one version, or all), newest first, as dicts.

    Each row has ``predictions_stored`` (whether the predictions were kept);
    the ``predictions`` bytes themselves only with ``with_predictions=True``.
    """
    columns = [*_LISTED, evaluations.c.predictions.is_not(None).label("predictions_stored")]
    if with_predictions:
        columns.append(evaluations.c.predictions)
    where = [evaluations.c.model_id == model_id]
    if version is not None:
        where.append(evaluations.c.version == version)
    if kind is not None:
        where.append(evaluations.c.kind == kind)
    if data_fingerprint is not None:
        where.append(evaluations.c.data_fingerprint == data_fingerprint)
    query = sa.select(*columns).where(*where).order_by(evaluations.c.evaluation_id.desc())
    if limit is not None:
        query = query.limit(int(limit))
    rows = []
    for found in conn.execute(query):
        row = dict(found._mapping)
        row["predictions_stored"] = bool(row["predictions_stored"])
        if row.get("predictions") is not None:
            row["predictions"] = bytes(row["predictions"])
        rows.append(row)
    return rows


def _resample_where(key: ResampleKey) -> list[Any]:
    metric, n_bootstrap, random_state, scheme = key
    c = evaluation_resamples.c
    return [c.metric == metric, c.n_bootstrap == n_bootstrap, c.random_state == random_state, c.scheme == scheme]


def insert_resamples(conn: sa.Connection, evaluation_id: int, key: ResampleKey, resampled: bytes) -> bool:
    """Keep the bootstrap values of an evaluation under ``key``; False (nothing written) when they are
    kept already or the evaluation is gone."""
    c = evaluation_resamples.c
    held = conn.execute(sa.select(c.evaluation_id).where(c.evaluation_id == evaluation_id,
                                                         *_resample_where(key))).first()
    alive = conn.execute(sa.select(evaluations.c.evaluation_id)
                         .where(evaluations.c.evaluation_id == evaluation_id)).first()
    if held is not None or alive is None:
        return False
    metric, n_bootstrap, random_state, scheme = key
    conn.execute(evaluation_resamples.insert().values(
        evaluation_id=evaluation_id, metric=metric, n_bootstrap=n_bootstrap, random_state=random_state,
        scheme=scheme, resampled=resampled))
    return True


def select_resamples(conn: sa.Connection, evaluation_ids: list[int], key: ResampleKey) -> dict[int, bytes]:
    """The bootstrap values kept under ``key`` for those of ``evaluation_ids`` that have them."""
    if not evaluation_ids:
        return {}
    c = evaluation_resamples.c
    query = sa.select(c.evaluation_id, c.resampled).where(c.evaluation_id.in_(evaluation_ids),
                                                          *_resample_where(key))
    return {int(r.evaluation_id): bytes(r.resampled) for r in conn.execute(query)}


class RegistryEvaluations:
    """The evaluation records of `Registry`: a part of it, using its transactions and locks."""

    if TYPE_CHECKING:
        def atomic(self, write: bool = True) -> AbstractContextManager[sa.Connection]: ...
        def lock(self, model_id: str) -> None: ...
        def _locked_row(self, model_id: str, version: int) -> dict[str, Any]: ...

    def add_evaluation(self, record: Mapping[str, Any]) -> int:
        """Record one evaluation of a version (fields: `RECORD_FIELDS`); return its id.

        Written under the id's write lock; compose it with `set_values` (the
        version's latest ``metrics``) inside one ``with registry.atomic():``.
        `ModelNotFoundError` when the version does not exist (deleted meanwhile).
        """
        with self.atomic() as conn:
            self._locked_row(record["model_id"], record["version"])
            return insert(conn, record)

    def evaluations(self, model_id: str, version: int | None = None, *, kind: str | None = None,
                    data_fingerprint: str | None = None, predictions: bool = False,
                    limit: int | None = None) -> list[dict[str, Any]]:
        """Evaluation records of ``model_id`` (one version, or all), newest first.

        ``kind`` (``"test"`` or ``"cv"``) and ``data_fingerprint`` filter them;
        ``predictions=True`` also returns the stored predictions bytes.
        """
        with self.atomic(write=False) as conn:
            return select(conn, model_id, version, kind=kind, data_fingerprint=data_fingerprint,
                          with_predictions=predictions, limit=limit)

    def add_resamples(self, model_id: str, evaluation_id: int, key: ResampleKey, resampled: bytes) -> bool:
        """Keep the paired-bootstrap values of an evaluation of ``model_id`` under ``key``
        (metric, n_bootstrap, random_state, scheme); False when already kept or the evaluation is gone."""
        with self.atomic() as conn:
            self.lock(model_id)
            return insert_resamples(conn, evaluation_id, key, resampled)

    def resamples(self, evaluation_ids: Iterable[int], key: ResampleKey) -> dict[int, bytes]:
        """The paired-bootstrap values kept under ``key``, by evaluation id (those that have them)."""
        with self.atomic(write=False) as conn:
            return select_resamples(conn, list(evaluation_ids), key)
