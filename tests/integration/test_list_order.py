"""``list_models(order_by=...)`` on both back ends: every sortable column sorts, nothing else is accepted.

A real column that has no meaningful order (JSON documents, digests) is refused
with `InvalidInputError` before any SQL runs: SQLite would sort JSON text and
PostgreSQL raises its own error on ``json`` columns, so the allow-list is the
only thing that keeps both back ends alike.
"""

from __future__ import annotations

import pytest

from jupyter_modelservice import InvalidInputError, ModelService
from jupyter_modelservice.registry import Registry

#: Written out here, not imported: a column dropped from (or added to) the allow-list shows.
SORTABLE = ("model_id", "version", "model_class", "training_date", "train_score", "validation_score",
            "status", "training_samples", "feature_count", "fit_seconds", "file_bytes")
NOT_SORTABLE = ("model_params", "tags", "file_sha256", "metrics", "cv_scores", "feature_names",
                "environment", "source", "file_path")

#: Four versions whose values are in a different order in every sortable column.
ROWS = [
    {"model_id": "b", "model_class": "Cls_C", "training_date": "2026-01-03T00:00:00.000000+00:00",
     "train_score": 0.3, "validation_score": 0.9, "status": "saved", "training_samples": 30,
     "feature_count": 1, "fit_seconds": 2.0, "file_bytes": 40},
    {"model_id": "c", "model_class": "Cls_A", "training_date": "2026-01-01T00:00:00.000000+00:00",
     "train_score": 0.9, "validation_score": 0.1, "status": "archived", "training_samples": 10,
     "feature_count": 4, "fit_seconds": 3.0, "file_bytes": 30},
    {"model_id": "a", "model_class": "Cls_D", "training_date": "2026-01-04T00:00:00.000000+00:00",
     "train_score": 0.1, "validation_score": 0.5, "status": "trained", "training_samples": 40,
     "feature_count": 2, "fit_seconds": 1.0, "file_bytes": 10},
    {"model_id": "b", "model_class": "Cls_B", "training_date": "2026-01-02T00:00:00.000000+00:00",
     "train_score": 0.5, "validation_score": 0.7, "status": "production", "training_samples": 20,
     "feature_count": 3, "fit_seconds": 4.0, "file_bytes": 20},
]
EXTRAS = {"model_params": {"C": 1.0}, "tags": {"team": "x"}, "file_sha256": "ab" * 32,
          "metrics": {"accuracy": 0.5}, "cv_scores": [0.1], "feature_names": ["f"],
          "environment": {"python": "3"}, "source": {"path": "nb.ipynb"}, "file_path": "m/v1.joblib"}


def _fill(registry: Registry) -> list[tuple[str, int]]:
    refs = []
    for row in ROWS:
        refs.append((row["model_id"], registry.add_version({**row, **EXTRAS})))
    assert refs == [("b", 1), ("c", 1), ("a", 1), ("b", 2)]
    return refs


def _expected(refs: list[tuple[str, int]], column: str, descending: bool) -> list[tuple[str, int]]:
    values = {ref: (ROWS[i][column] if column != "version" else ref[1]) for i, ref in enumerate(refs)}
    # ties (only in `version`) are broken by model_id ascending, then version descending
    ties = sorted(refs, key=lambda ref: (ref[0], -ref[1]))
    return sorted(ties, key=lambda ref: values[ref], reverse=descending)


def check_order(registry: Registry) -> None:
    refs = _fill(registry)
    ties = _expected(refs, "model_id", False)
    for column in SORTABLE:
        # the data make each key matter: sorted by it, the rows are not in tie-break order
        assert column == "model_id" or _expected(refs, column, False) != ties, column
        for descending in (False, True):
            order_by = ("-" if descending else "") + column
            got = [(r["model_id"], r["version"]) for r in registry.list(order_by=order_by)]
            assert got == _expected(refs, column, descending), order_by
    for column in NOT_SORTABLE:
        for order_by in (column, f"-{column}"):
            with pytest.raises(InvalidInputError, match=f"Cannot order by '{order_by}'"):
                registry.list(order_by=order_by)
    for order_by in ("", "-", "Version", "no_such_column", "version; DROP TABLE model_metadata"):
        with pytest.raises(InvalidInputError, match="Cannot order by"):
            registry.list(order_by=order_by)
    assert len(registry.list()) == len(ROWS)


def test_sqlite_sorts_every_sortable_column_and_refuses_the_others(tmp_path):
    with Registry(f"sqlite:///{tmp_path / 'registry.db'}") as registry:
        check_order(registry)


@pytest.mark.postgres
def test_postgres_sorts_every_sortable_column_and_refuses_the_others(pg_url):
    with Registry(pg_url) as registry:
        check_order(registry)


@pytest.mark.parametrize("column", ["model_params", "tags", "file_sha256"])
def test_list_models_refuses_an_unsortable_column_on_sqlite(tmp_path, column):
    with ModelService(models_directory=tmp_path / "models") as service:
        with pytest.raises(InvalidInputError, match="Cannot order by"):
            service.list_models(order_by=column)


@pytest.mark.postgres
@pytest.mark.parametrize("column", ["model_params", "tags", "file_sha256"])
def test_list_models_refuses_an_unsortable_column_on_postgres(pg_url, tmp_path, column):
    with ModelService(db_type="postgresql", db_url=pg_url, models_directory=tmp_path / "models") as service:
        with pytest.raises(InvalidInputError, match="Cannot order by"):
            service.list_models(order_by=f"-{column}")
