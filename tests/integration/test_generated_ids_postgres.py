"""Unnamed models trained at once by several processes into one PostgreSQL registry get distinct ids."""

from __future__ import annotations

import multiprocessing

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _train_unnamed(url: str, directory: str, count: int, queue) -> None:
    from sklearn.datasets import load_iris
    from sklearn.naive_bayes import GaussianNB

    from jupyter_modelservice import ModelService

    X, y = load_iris(return_X_y=True)
    with ModelService("postgresql", directory, db_url=url) as service:
        queue.put([service.train_model(GaussianNB, X, y, validation_split=0)["model_id"] for _ in range(count)])


def test_processes_get_distinct_generated_ids_on_postgresql(pg_url, tmp_path):
    from jupyter_modelservice import ModelService

    directory = str(tmp_path / "models")
    ModelService("postgresql", directory, db_url=pg_url).close()
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_train_unnamed, args=(pg_url, directory, 6, queue)) for _ in range(3)]
    for worker in workers:
        worker.start()
    ids = [model_id for _ in workers for model_id in queue.get(timeout=300)]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert sorted(ids, key=lambda i: int(i.split("-")[1])) == [f"gaussiannb-{n}" for n in range(1, 19)]
    with ModelService("postgresql", directory, db_url=pg_url) as service:
        assert {r["version"] for r in service.list_models()} == {1}
