"""Many processes training and saving into one SQLite registry lose nothing and never collide."""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import traceback
from collections import Counter

import numpy as np
import pytest

from jupyter_modelservice import ModelService, maintenance

from .figures import FIGURES

pytestmark = pytest.mark.slow

WRITERS = int(os.environ.get("MODELSERVICE_WRITERS", "8"))
SAVES = int(os.environ.get("MODELSERVICE_SAVES_PER_WRITER", "100"))


def _writer(models: str, index: int, n: int, queue) -> None:
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(index)
    X = rng.normal(size=(20, 2))
    y = (X[:, 0] > 0).astype(int)
    got, errors = [], []
    with ModelService(models_directory=models) as service:
        for _ in range(n):
            try:
                result = service.train_model(DecisionTreeClassifier, X, y, model_id="shared",
                                             validation_split=0, max_depth=1)
                service.save_model("shared", version=result["version"])
                got.append((result["version"], service.get_model_metadata("shared", result["version"])
                            ["file_sha256"]))
            except Exception:  # noqa: BLE001 - counted and reported
                errors.append(traceback.format_exc(limit=3))
    queue.put((index, got, errors))


def test_writers_never_lose_or_duplicate_a_version(tmp_path):
    models = str(tmp_path / "models")
    ModelService(models_directory=models).close()
    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(models, k, SAVES, queue)) for k in range(WRITERS)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=300) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    errors = [e for _, _, errs in results for e in errs]
    claimed = [version for _, got, _ in results for version, _ in got]

    with ModelService(models_directory=models) as service:
        rows = service.list_models(model_id="shared", order_by="version")
        report = maintenance.verify(service, grace=0)
        registered = Counter(e["version"] for e in service.model_history("shared") if e["event"] == "registered")
    versions = [r["version"] for r in rows]
    expected = set(range(1, WRITERS * SAVES + 1))
    FIGURES["writers"] = WRITERS
    FIGURES["saves_per_writer"] = SAVES
    FIGURES["writer_saves"] += len(claimed)
    FIGURES["writer_errors"] += len(errors)
    FIGURES["lost_versions"] += len(expected - set(versions))
    FIGURES["duplicate_versions"] += len(claimed) - len(set(claimed))

    assert not errors, errors[:3]
    assert sorted(claimed) == sorted(versions) == sorted(expected)  # every save is there, once
    assert all(n == 1 for n in registered.values()) and set(registered) == expected
    assert all(r["status"] == "saved" and r["artifact_state"] == "ready" for r in rows)
    assert report.ok, report.to_dict()["problems"][:5]
    by_version = {r["version"]: r["file_sha256"] for r in rows}
    assert all(by_version[v] == sha for _, got, _ in results for v, sha in got)


def _bare_id_writer(models: str, index: int, n: int, queue) -> None:
    """The spec's own pattern: train under an id, then save it by the bare id."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(100 + index)
    X = rng.normal(size=(30, 3))
    y = (X[:, 0] + 0.1 * rng.normal(size=30) > 0).astype(int)
    got, errors = [], []
    with ModelService(models_directory=models) as service:
        for _ in range(n):
            try:
                trained = service.train_model(LogisticRegression, X, y, model_id="shared", validation_split=0)
                service.save_model("shared")
                got.append((trained["version"], service.get_model_metadata("shared")["version"]))
            except Exception:  # noqa: BLE001 - counted and reported
                errors.append(traceback.format_exc(limit=3))
    queue.put((index, got, errors))


def test_a_bare_id_means_the_version_this_service_trained(tmp_path):
    """8 processes × 25 ``train_model(..., model_id="shared"); save_model("shared")``: each
    process saves its own version, never another process's unsaved one."""
    writers, saves = 8, 25
    models = str(tmp_path / "models")
    ModelService(models_directory=models).close()
    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_bare_id_writer, args=(models, k, saves, queue)) for k in range(writers)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=300) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    errors = [e for _, _, errs in results for e in errs]
    assert not errors, f"{len(errors)} of {writers * saves} calls failed: {errors[:2]}"
    # the metadata a process reads back by the bare id is its own version too
    assert all(trained == read for _, got, _ in results for trained, read in got)
    with ModelService(models_directory=models) as service:
        rows = service.list_models(model_id="shared", order_by="version")
        assert len(rows) == writers * saves
        assert all(r["status"] == "saved" and r["artifact_state"] == "ready" for r in rows)
        for row in rows:  # every version is loadable by a new service
            assert service.get_model(f"shared:{row['version']}").predict(np.zeros((1, 3))).shape == (1,)


def _tagger(models: str, index: int, n: int, queue) -> None:
    errors = []
    with ModelService(models_directory=models) as service:
        for k in range(n):
            try:
                service.update_model_metadata("tagged", {"tags": {f"w{index}-t{k}": k}})
            except Exception:  # noqa: BLE001 - counted and reported
                errors.append(traceback.format_exc(limit=3))
    queue.put((index, errors))


def test_concurrent_tag_updates_lose_no_tag(tmp_path, iris):
    """4 processes × 20 distinct tags on one version: the merge happens under the write lock."""
    from sklearn.tree import DecisionTreeClassifier

    writers, tags = 4, 20
    models = str(tmp_path / "models")
    with ModelService(models_directory=models) as service:
        service.train_model(DecisionTreeClassifier, *iris, model_id="tagged", max_depth=1)
        service.save_model("tagged")
        service.update_model_metadata("tagged", {"tags": {"kept": True}})
    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_tagger, args=(models, k, tags, queue)) for k in range(writers)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=300) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    assert not [e for _, errs in results for e in errs]
    with ModelService(models_directory=models) as service:
        stored = service.get_model_metadata("tagged")["tags"]
        assert maintenance.verify(service, grace=0).ok  # the sidecar ends as the database does
    expected = {f"w{i}-t{k}": k for i in range(writers) for k in range(tags)}
    assert stored == {"kept": True, **expected}, f"{len(expected) + 1 - len(stored)} tags lost"
