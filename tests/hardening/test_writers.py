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
