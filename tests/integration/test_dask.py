"""Cross-validation and comparisons on a Dask cluster give the results of a local run."""

from __future__ import annotations

import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from jupyter_modelservice import ModelService
from jupyter_modelservice.exceptions import InvalidInputError
from jupyter_modelservice.parallel import ParallelConfig

pytestmark = pytest.mark.dask


def cluster_tasks(client):
    from distributed import get_task_stream

    return get_task_stream(client=client)


def worker_addresses(client):
    return set(client.scheduler_info()["workers"])


def test_cv_on_the_cluster_equals_the_local_run(tmp_path, iris, dask_client):
    X, y = iris
    kwargs = {"cv_folds": 5, "scoring": ["accuracy", "f1_macro"], "n_estimators": 15, "random_state": 3}
    with ModelService(models_directory=tmp_path / "local") as local:
        expected = local.cross_validate_model(RandomForestClassifier, X, y, **kwargs)
    seen = []
    with ModelService(models_directory=tmp_path / "dask", parallel_backend="dask",
                      scheduler=dask_client.scheduler.address) as remote:
        with cluster_tasks(dask_client) as stream:
            got = remote.cross_validate_model(RandomForestClassifier, X, y,
                                              progress=lambda d, t: seen.append((d, t)), **kwargs)
        client = remote.parallel.client()
        assert client is not dask_client and client.scheduler.address == dask_client.scheduler.address
    assert client.status == "closed"  # the service closes the client it opened
    assert dask_client.status == "running"
    assert got["cv_scores"] == expected["cv_scores"]
    assert got["scores"] == expected["scores"]
    assert seen == [(i, 5) for i in range(1, 6)]
    ran_on = {task["worker"] for task in stream.data}
    assert stream.data and ran_on <= worker_addresses(dask_client)


def test_an_active_joblib_dask_config_is_honoured(tmp_path, iris, dask_client):
    import joblib
    from distributed import Client

    X, y = iris
    with ModelService(models_directory=tmp_path) as svc:
        expected = svc.cross_validate_model(LogisticRegression, X, y, cv_folds=4, max_iter=500)
        with Client(dask_client.scheduler.address) as default:  # the user's default client
            with cluster_tasks(default) as stream, joblib.parallel_config(backend="dask"):
                got = svc.cross_validate_model(LogisticRegression, X, y, cv_folds=4, max_iter=500)
    assert got["cv_scores"] == expected["cv_scores"]
    assert stream.data


def test_compare_fans_out_to_the_workers(tmp_path, iris, dask_client):
    X, y = iris
    with ModelService(models_directory=tmp_path, parallel_backend="dask", scheduler=dask_client) as svc:
        for n in (3, 6, 12):
            svc.train_model(RandomForestClassifier, X, y, model_id=f"rf{n}", n_estimators=n, random_state=0)
            svc.save_model()
        with cluster_tasks(dask_client) as stream:
            frame = svc.compare_models(["rf3", "rf6", "rf12"], X, y)
        assert svc.parallel.client() is dask_client
    assert dask_client.status == "running"  # a client we were given stays open
    with ModelService(models_directory=tmp_path) as local:
        expected = local.compare_models(["rf3", "rf6", "rf12"], X, y)
    assert stream.data
    assert frame.drop(columns=[c for c in frame.columns if "time" in c]).equals(
        expected.drop(columns=[c for c in expected.columns if "time" in c]))
    assert local.get_model_metadata("rf6")["metrics"]["accuracy"] == frame.set_index("model_id").loc["rf6", "accuracy"]


def test_unreachable_scheduler_is_a_clear_error():
    import dask

    config = ParallelConfig("dask", "tcp://127.0.0.1:9")
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(InvalidInputError, match="Cannot reach the Dask scheduler"):
            config.client()


def test_scheduler_needs_the_dask_backend():
    with pytest.raises(InvalidInputError, match="only used with"):
        ParallelConfig("loky", "tcp://127.0.0.1:8786")
    with pytest.raises(InvalidInputError, match="parallel_backend must be"):
        ParallelConfig("ray")
