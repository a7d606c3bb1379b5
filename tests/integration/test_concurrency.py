"""Many processes writing the same model ids at once: no error, no lost or doubled version.

8 processes x 50 train+save under 3 shared ids (PostgreSQL and SQLite, local
files; a smaller run with files on S3), and two processes promoting different
versions of the same id at the same moment, round after round.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from jupyter_modelservice import ModelService

from .processes import run_together

IDS = ("churn", "fraud", "ltv")


def _data():
    from sklearn.datasets import make_classification

    return make_classification(n_samples=60, n_features=4, n_informative=3, n_redundant=0,
                               random_state=0)


def _open(setup):
    return ModelService(**setup)


def _train_and_save(setup, offset, n, barrier, queue):
    made, errors = [], []
    try:
        from sklearn.linear_model import LogisticRegression

        X, y = _data()
        svc = _open(setup)
        barrier.wait(timeout=120)
        for i in range(n):
            model_id = IDS[(offset + i) % len(IDS)]
            step = "train"
            try:
                result = svc.train_model(LogisticRegression, X, y, model_id=model_id,
                                         validation_split=0, C=1.0 + offset,
                                         solver="liblinear")
                step = "save"
                svc.save_model(model_id, version=result["version"])
                made.append((model_id, result["version"]))
            except Exception as err:  # noqa: BLE001 - counted and asserted on, with where it happened
                errors.append(f"process {offset}, {step} {i}: {_where(err)}")
        svc.close()
    except Exception as err:  # noqa: BLE001
        errors.append(f"process {offset}, opening: {_where(err)}")
    queue.put((made, errors))


def _where(err):
    """The error with the frames of the package it passed through (the statement that failed)."""
    import traceback

    frames = [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in traceback.extract_tb(err.__traceback__)
              if "jupyter_modelservice" in f.filename]
    return f"{err!r} via {' > '.join(frames[-6:])}"


def check_train_and_save(setup, processes, per_process):
    results = run_together(_train_and_save, [(setup, k, per_process) for k in range(processes)])
    errors = [e for _, errs in results for e in errs]
    made = [m for ms, _ in results for m in ms]
    assert errors == []
    total = processes * per_process
    assert len(made) == len(set(made)) == total
    with _open(setup) as svc:
        rows = svc.list_models(order_by="version")
        assert len(rows) == total
        for model_id in IDS:
            versions = [r["version"] for r in rows if r["model_id"] == model_id]
            assert versions == list(range(1, len(versions) + 1))  # contiguous, no gap, no double
        registered = Counter((e["model_id"], e["version"]) for e in svc.registry.events()
                             if e["event"] == "registered")
        assert set(registered.values()) == {1} and len(registered) == total
        for row in rows:
            assert (row["status"], row["artifact_state"]) == ("saved", "ready")
            data = svc.store.read_bytes(row["relative_path"])
            assert hashlib.sha256(data).hexdigest() == row["file_sha256"] and len(data) == row["file_bytes"]
            sidecar = json.loads(svc.store.read_bytes(f"{row['model_id']}/v{row['version']}.json"))
            assert sidecar["file_sha256"] == row["file_sha256"]


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_8_processes_x_50_train_and_save(pg_url, tmp_path):
    setup = {"db_type": "postgresql", "db_url": pg_url, "models_directory": str(tmp_path / "models")}
    check_train_and_save(setup, 8, 50)


@pytest.mark.slow
def test_sqlite_8_processes_x_50_train_and_save(tmp_path):
    check_train_and_save({"models_directory": str(tmp_path / "models")}, 8, 50)


@pytest.mark.postgres
@pytest.mark.s3
@pytest.mark.slow
def test_postgres_and_s3_4_processes_x_10_train_and_save(pg_url, s3_url, s3_options):
    setup = {"db_type": "postgresql", "db_url": pg_url, "models_directory": s3_url,
             "storage_options": s3_options}
    check_train_and_save(setup, 4, 10)


ROUNDS = 15


def _promote(setup, version, barrier, queue):
    errors = []
    try:
        svc = _open(setup)
        for r in range(ROUNDS):
            barrier.wait(timeout=120)
            try:
                svc.update_model_metadata(f"m{r}", {"status": "production"}, version=version)
            except Exception as err:  # noqa: BLE001
                errors.append(repr(err))
        svc.close()
    except Exception as err:  # noqa: BLE001
        errors.append(repr(err))
    queue.put(errors)


def check_promotions(setup):
    from sklearn.linear_model import LogisticRegression

    X, y = _data()
    with _open(setup) as svc:
        for r in range(ROUNDS):
            for c in (0.5, 2.0):
                svc.train_model(LogisticRegression, X, y, model_id=f"m{r}", validation_split=0, C=c)
                svc.save_model()
    results = run_together(_promote, [(setup, 1), (setup, 2)])
    assert [e for errs in results for e in errs] == []
    with _open(setup) as svc:
        for r in range(ROUNDS):
            model_id = f"m{r}"
            rows = {row["version"]: row for row in svc.list_models(model_id=model_id)}
            production = [v for v, row in rows.items() if row["status"] == "production"]
            assert len(production) == 1
            history = svc.model_history(model_id)
            promotions = [e["version"] for e in history if e["to_status"] == "production"]
            assert sorted(promotions) == [1, 2]  # exactly one promotion entry each
            assert promotions[-1] == production[0]  # the later promotion won
            loser = 3 - production[0]
            last = [e for e in history if e["version"] == loser][-1]
            assert (last["from_status"], last["to_status"]) == ("production", "saved")
            for v, row in rows.items():  # sidecars agree with the database
                sidecar = json.loads(svc.store.read_bytes(f"{model_id}/v{v}.json"))
                assert sidecar["status"] == row["status"], (model_id, v)


@pytest.mark.postgres
def test_postgres_concurrent_promotions(pg_url, tmp_path):
    check_promotions({"db_type": "postgresql", "db_url": pg_url,
                      "models_directory": str(tmp_path / "models")})


def test_sqlite_concurrent_promotions(tmp_path):
    check_promotions({"models_directory": str(tmp_path / "models")})


RACE_ROUNDS = 25


def _add_versions(url, rounds, bypass_lock, barrier, queue):
    """Add one version of ``race`` per round, all processes starting each round together.

    With ``bypass_lock`` the registry's write lock is taken away, as a broken
    registry would: a plain deferred ``BEGIN`` (SQLite locks only at the first
    write), and every process reads the registry (its snapshot of the versions)
    before any of them inserts. That is the race the lock exists to prevent, made
    certain.
    """
    got, errors = [], []
    try:
        import sqlalchemy as sa

        from jupyter_modelservice.registry import Registry, engine

        registry = Registry(url)
        if bypass_lock:
            sa.event.remove(registry.engine, "begin", engine._sqlite_on_begin)
            sa.event.listen(registry.engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))

            def read_then_wait(model_id):  # where the lock would be taken: a read instead, then the others
                registry._connection().exec_driver_sql("SELECT max(version) FROM model_metadata").one()
                barrier.wait(timeout=120)  # everyone has read the same versions

            registry.lock = read_then_wait
        for _ in range(rounds):
            barrier.wait(timeout=120)
            try:
                got.append(registry.add_version({"model_id": "race", "model_class": "LogisticRegression"}))
            except Exception as err:  # noqa: BLE001 - counted and asserted on
                errors.append(repr(err))
        registry.close()
    except Exception as err:  # noqa: BLE001
        errors.append(repr(err))
    queue.put((got, errors))


def check_next_versions(url, processes, rounds, bypass_lock=False):
    """Every add_version of every process got its own number: 1..N, no gap, no error, one event each."""
    from jupyter_modelservice.registry import Registry

    results = run_together(_add_versions, [(url, rounds, bypass_lock) for _ in range(processes)])
    errors = [e for _, errs in results for e in errs]
    claimed = [v for got, _ in results for v in got]
    assert errors == [], f"{len(errors)} errors, e.g. {errors[:2]}"
    total = processes * rounds
    assert sorted(claimed) == list(range(1, total + 1))
    with Registry(url) as registry:
        rows = registry.list(model_id="race", order_by="version")
        assert [r["version"] for r in rows] == list(range(1, total + 1))
        registered = Counter(e["version"] for e in registry.events("race") if e["event"] == "registered")
        assert set(registered) == set(range(1, total + 1)) and set(registered.values()) == {1}


def test_sqlite_8_processes_allocate_versions_without_a_race(tmp_path):
    check_next_versions(f"sqlite:///{tmp_path / 'registry.db'}", 8, RACE_ROUNDS)


def test_the_version_check_catches_a_race_when_the_sqlite_lock_is_bypassed(tmp_path):
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    # writers that all read the same number: one insert per round wins, the others hit the lock
    with pytest.raises(AssertionError, match=r"21 errors, e\.g\. .*database is locked"):
        check_next_versions(url, 8, 3, bypass_lock=True)


def _open_fresh(url, barrier, queue):
    """Open the registry at ``url`` (not created yet) at the same moment as the others; add a version."""
    try:
        from jupyter_modelservice.registry import Registry

        barrier.wait(timeout=120)
        with Registry(url) as registry:
            queue.put(registry.add_version({"model_id": "first", "model_class": "X"}))
    except Exception as err:  # noqa: BLE001 - reported to the test
        queue.put(_where(err))


def test_processes_opening_a_new_sqlite_registry_at_once_all_get_in(tmp_path):
    # the first one creates the file and switches it to WAL; the others must wait for it, not fail
    for attempt in range(3):
        url = f"sqlite:///{tmp_path / f'fresh{attempt}.db'}"
        results = run_together(_open_fresh, [(url,) for _ in range(8)])
        assert sorted(results, key=str) == list(range(1, 9)), results
