"""Ids generated for unnamed models: short (``gaussiannb-3``), and unique per registry, also when
several processes train unnamed models into one registry at the same time."""

from __future__ import annotations

import multiprocessing

import pytest


def test_unnamed_models_get_short_numbered_ids(service, iris):
    from sklearn.ensemble import ExtraTreesClassifier
    from sklearn.naive_bayes import GaussianNB

    first = service.train_model(ExtraTreesClassifier, *iris, n_estimators=5, random_state=0)
    second = service.train_model(ExtraTreesClassifier, *iris, n_estimators=5, random_state=1)
    other = service.train_model(GaussianNB, *iris)
    assert (first["model_id"], first["version"]) == ("extratrees-1", 1)
    assert (second["model_id"], second["version"]) == ("extratrees-2", 1)  # a new model, not version 2
    assert other["model_id"] == "gaussiannb-1"


def test_an_id_that_existed_is_not_given_again(service, iris):
    from sklearn.naive_bayes import GaussianNB

    for _ in range(2):
        service.train_model(GaussianNB, *iris)
    service.delete_model("gaussiannb-2")  # the highest number is free again, but has a history
    service.train_model(GaussianNB, *iris, model_id="GaussianNB-5")  # a user's id of that form
    assert service.train_model(GaussianNB, *iris)["model_id"] == "gaussiannb-6"
    service.delete_model("GaussianNB-5")
    service.delete_model("gaussiannb-6")
    new = service.train_model(GaussianNB, *iris)  # 2, 5 and 6 existed: their histories stay theirs
    assert (new["model_id"], new["version"]) == ("gaussiannb-3", 1)
    assert [e["event"] for e in service.model_history(new["model_id"])] == ["registered"]


def _train_unnamed(directory: str, count: int, queue) -> None:
    from sklearn.datasets import load_iris
    from sklearn.naive_bayes import GaussianNB

    from jupyter_modelservice import ModelService

    X, y = load_iris(return_X_y=True)
    with ModelService(models_directory=directory) as service:
        queue.put([service.train_model(GaussianNB, X, y, validation_split=0)["model_id"] for _ in range(count)])


@pytest.mark.slow
def test_processes_training_unnamed_models_at_once_get_distinct_ids(tmp_path):
    from jupyter_modelservice import ModelService

    directory = str(tmp_path / "models")
    ModelService(models_directory=directory).close()  # the registry exists before they race
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_train_unnamed, args=(directory, 6, queue)) for _ in range(3)]
    for worker in workers:
        worker.start()
    ids = [model_id for _ in workers for model_id in queue.get(timeout=300)]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert sorted(ids, key=lambda i: int(i.split("-")[1])) == [f"gaussiannb-{n}" for n in range(1, 19)]
    with ModelService(models_directory=directory) as service:
        assert {r["version"] for r in service.list_models()} == {1}  # each one a model of its own
