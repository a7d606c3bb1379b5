"""Models kept in the registry database itself (``models_directory="db://"``), on SQLite and PostgreSQL.

Every test runs against a real SQLite file and the real PostgreSQL server:
saves and loads, the one transaction that stores the bytes and marks the
version ready, integrity checks before any deserialization, the size limit,
delete and gc, verify, export/import, migrate both ways, the schema upgrade
and two processes sharing models through the database alone.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from jupyter_modelservice import ArtifactIntegrityError, ModelService, ModelTooLargeError, maintenance
from jupyter_modelservice.artifacts import formats
from jupyter_modelservice.cli import main
from jupyter_modelservice.migrate import migrate_registry
from jupyter_modelservice.registry.schema import SCHEMA_VERSION, model_blobs
from tests.old_schema import downgrade

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def where(request, tmp_path):
    """``ModelService`` arguments of a registry keeping its models in its database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'team' / 'team.db'}"
        (tmp_path / "team").mkdir()
    else:
        url = request.getfixturevalue("pg_url")
    return {"db_type": request.param, "db_url": url, "models_directory": "db://"}


@pytest.fixture
def saved(where, small_data):
    """A service with ``lr:1`` and ``lr:2`` saved in the database."""
    X, y = small_data
    svc = ModelService(**where)
    for c in (0.1, 10.0):
        svc.train_model(LogisticRegression, X, y, model_id="lr", C=c, max_iter=500)
        svc.save_model("lr")
    yield svc
    svc.close()


def blobs_of(svc):
    """``{(model_id, version): (path, sha256 of the bytes, nbytes)}`` as stored."""
    with svc.registry.atomic(write=False) as conn:
        rows = conn.execute(sa.select(model_blobs)).all()
    return {(r.model_id, r.version): (r.path, hashlib.sha256(bytes(r.data)).hexdigest(), r.nbytes) for r in rows}


def set_blob(svc, model_id, version, data):
    with svc.registry.atomic() as conn:
        conn.execute(model_blobs.update().where(model_blobs.c.model_id == model_id, model_blobs.c.version == version)
                     .values(data=data))


def files_under(folder):
    return sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file())


def test_a_saved_version_is_loaded_by_another_service_from_the_database_alone(where, small_data, tmp_path,
                                                                                monkeypatch):
    X, y = small_data
    (tmp_path / "alice").mkdir()
    (tmp_path / "bob").mkdir()
    monkeypatch.chdir(tmp_path / "alice")
    with ModelService(**where) as alice:
        alice.train_model(LogisticRegression, X, y, model_id="lr", max_iter=500)
        alice.save_model("lr")
        expected = alice.predict(X)
        row = alice.registry.get("lr", 1)
        public = alice.get_model_metadata("lr")
    assert (row["artifact_state"], row["status"], row["file_path"]) == ("ready", "saved", "lr/v1.joblib")
    assert public["file_path"] == "db://lr/v1.joblib"
    monkeypatch.chdir(tmp_path / "bob")
    with ModelService(**where) as bob:
        bob.load_model("lr")
        assert (bob.predict(X) == expected).all()
        assert blobs_of(bob) == {("lr", 1): ("lr/v1.joblib", row["file_sha256"], row["file_bytes"])}
    assert files_under(tmp_path / "alice") == files_under(tmp_path / "bob") == []  # no folder, no sidecar
    if where["db_type"] == "sqlite":
        assert set(files_under(tmp_path / "team")) <= {"team.db", "team.db-wal", "team.db-shm"}


def _refuse_in_database(svc, dialect, table, condition):
    """A trigger making the next write to ``table`` matching ``condition`` fail inside its transaction."""
    with svc.registry.atomic() as conn:
        if dialect == "sqlite":
            conn.exec_driver_sql(f"CREATE TRIGGER refuse BEFORE {condition[0]} ON {table} "
                                 f"WHEN {condition[1]} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
        else:
            conn.exec_driver_sql("CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                                 "RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql")
            conn.exec_driver_sql(f"CREATE TRIGGER refuse BEFORE {condition[0]} ON {table} FOR EACH ROW "
                                 f"WHEN ({condition[1]}) EXECUTE FUNCTION refuse()")


@pytest.mark.parametrize("table, condition", [
    ("model_metadata", ("UPDATE", "NEW.artifact_state = 'ready'")),  # marking ready fails after the bytes
    ("model_blobs", ("INSERT", "NEW.nbytes > 0")),                   # storing the bytes fails
], ids=["ready fails", "bytes fail"])
def test_the_bytes_and_the_ready_mark_commit_together_or_not_at_all(where, small_data, table, condition):
    X, y = small_data
    with ModelService(**where) as svc:
        svc.train_model(LogisticRegression, X, y, model_id="lr", max_iter=500)
        _refuse_in_database(svc, where["db_type"], table, condition)
        with pytest.raises(Exception, match="refused by the test"):
            svc.save_model("lr")
        row = svc.registry.get("lr", 1)
        assert (row["artifact_state"], row["file_path"], row["file_sha256"], row["status"]) == (None, None, None,
                                                                                               "trained")
        assert blobs_of(svc) == {}
        assert [e["event"] for e in svc.model_history("lr")] == ["registered"]  # no save recorded either


def test_changed_bytes_are_refused_before_anything_is_deserialized(saved, where, monkeypatch):
    row = saved.registry.get("lr", 1)
    other = bytes(saved.store.read_bytes("lr/v2.joblib"))  # a valid model file of the same format
    set_blob(saved, "lr", 1, other)
    seen = []
    monkeypatch.setattr(formats, "loads", lambda *a, **k: seen.append(a))
    with ModelService(**where) as fresh:
        with pytest.raises(ArtifactIntegrityError, match=row["file_sha256"]):
            fresh.load_model("lr:1")
        assert fresh.current_model is None
    assert seen == []
    report = maintenance.verify(saved)
    assert report.kinds() == {"hash_mismatch": 1}


def test_bytes_of_another_format_are_refused_before_any_reader_runs(saved, where, monkeypatch):
    estimator = saved.get_model("lr:1")
    data = b"PK\x03\x04" + pickle.dumps(estimator)  # a zip (skops) header, under the joblib record
    set_blob(saved, "lr", 1, data)
    saved.registry.set_file("lr", 1, {"file_sha256": hashlib.sha256(data).hexdigest(), "file_bytes": len(data)})
    import joblib

    monkeypatch.setattr(joblib, "load", lambda *a, **k: pytest.fail("joblib.load ran"))
    with ModelService(**where) as fresh:
        with pytest.raises(ArtifactIntegrityError, match="registered as joblib, but its bytes are a skops file"):
            fresh.load_model("lr:1")


def test_a_load_reads_the_bytes_once_and_deserializes_that_very_object(saved, where, monkeypatch):
    with ModelService(**where) as fresh:
        fetched, given = [], []
        real_read, real_loads = fresh.registry.model_bytes, formats.loads

        def read(*args):
            fetched.append(real_read(*args))
            return fetched[-1]

        def loads(data, *args, **kwargs):
            given.append(data)
            return real_loads(data, *args, **kwargs)

        monkeypatch.setattr(fresh.registry, "model_bytes", read)
        monkeypatch.setattr(formats, "loads", loads)
        fresh.load_model("lr:2")
    assert len(fetched) == 1 and len(given) == 1 and given[0] is fetched[0]
    assert isinstance(fetched[0], bytes)


def test_deleting_a_version_frees_its_bytes(saved):
    assert set(blobs_of(saved)) == {("lr", 1), ("lr", 2)}
    saved.delete_model("lr:1")
    assert set(blobs_of(saved)) == {("lr", 2)}
    saved.delete_model("lr")
    assert blobs_of(saved) == {}
    assert maintenance.verify(saved).ok


def test_gc_frees_the_bytes_of_archived_versions(saved, small_data):
    X, _ = small_data
    size = saved.registry.get("lr", 1)["file_bytes"]
    saved.archive_model("lr:1")
    assert maintenance.collect_garbage(saved, dry_run=True).total_bytes("removed") == size
    assert set(blobs_of(saved)) == {("lr", 1), ("lr", 2)}  # a dry run frees nothing
    report = maintenance.collect_garbage(saved)
    assert [(item.path, item.bytes) for item in report.of("removed")] == [("lr/v1.joblib", size)]
    assert set(blobs_of(saved)) == {("lr", 2)}
    row = saved.registry.get("lr", 1)
    assert (row["artifact_state"], row["file_path"]) == ("removed", None)
    assert maintenance.verify(saved).ok
    assert maintenance.collect_garbage(saved).of("removed") == []
    saved.load_model("lr:2")


def test_verify_hashes_the_bytes_and_wants_no_sidecars(saved):
    report = maintenance.verify(saved)
    sizes = sum(r["file_bytes"] for r in saved.registry.list())
    assert report.ok and report.counts == {"rows": 2, "files": 2, "bytes_hashed": sizes}
    assert not maintenance.repair(saved).changes  # nothing to repair, no sidecar to write
    with saved.registry.atomic() as conn:
        conn.execute(model_blobs.delete().where(model_blobs.c.version == 2))
    assert maintenance.verify(saved).kinds() == {"missing_file": 1}


def test_a_model_over_the_limit_is_refused_and_nothing_is_written(where, small_data):
    X, y = small_data
    with ModelService(**where, storage_options={"max_bytes": 3000}) as svc:
        svc.train_model(DummyClassifier, X, y, model_id="small")
        svc.save_model("small")  # well under the limit
        svc.train_model(RandomForestClassifier, X, y, model_id="rf", n_estimators=30, random_state=0)
        with pytest.raises(ModelTooLargeError) as info:
            svc.save_model("rf")
        message = str(info.value)
        assert "rf:1" in message and "nothing was written" in message
        assert "s3://" in message and "max_bytes" in message
        row = svc.registry.get("rf", 1)
        assert (row["artifact_state"], row["file_path"], row["status"]) == (None, None, "trained")
        assert set(blobs_of(svc)) == {("small", 1)}
        assert [e["event"] for e in svc.model_history("rf")] == ["registered"]
        assert svc.predict(X[:3]) is not None  # the model is still here, in memory


def test_export_from_and_import_into_the_database(saved, where, tmp_path, small_data):
    X, _ = small_data
    archive = tmp_path / "lr2.zip"
    manifest = maintenance.export_version(saved, "lr:2", archive)
    assert manifest["sha256"] == saved.registry.get("lr", 2)["file_sha256"]
    with ModelService(models_directory=tmp_path / "files") as files:  # a file store on the other side
        [imported] = maintenance.import_version(files, archive).changes
        files.trust(imported.ref)
        files.load_model(imported.ref)
        back = tmp_path / "back.zip"
        maintenance.export_version(files, imported.ref, back)
        expected = files.predict(X)
    [result] = maintenance.import_version(saved, back, model_id="copy").changes
    assert result.ref == "copy:2" and blobs_of(saved)[("copy", 2)][1] == manifest["sha256"]
    row = saved.registry.get("copy", 2)
    assert (row["artifact_state"], row["trust"]) == ("ready", "unverified")
    saved.trust("copy:2")
    saved.load_model("copy:2")
    assert (saved.predict(X) == expected).all()


def test_an_archive_over_the_limit_is_not_imported(saved, where, tmp_path):
    archive = tmp_path / "lr1.zip"
    maintenance.export_version(saved, "lr:1", archive)
    with ModelService(**where, storage_options={"max_bytes": 100}) as small:
        with pytest.raises(ModelTooLargeError):
            maintenance.import_version(small, archive, model_id="big")
        assert small.list_models(model_id="big") == [] and ("big", 1) not in blobs_of(small)


def test_re_saving_in_another_format_replaces_the_bytes(saved):
    saved.save_model("lr:1", save_format="skops")
    blobs = blobs_of(saved)
    assert blobs[("lr", 1)][0] == "lr/v1.skops"
    assert not saved.store.exists("lr/v1.joblib")
    saved.current_model = None
    saved.load_model("lr:1")
    assert maintenance.verify(saved).ok


def test_rebuild_index_says_there_is_nothing_to_rebuild_from(saved, where, capsys):
    report = maintenance.rebuild_index(saved)
    assert report.of("added") == [] and report.ok
    [note] = report.of("no_sidecars")
    assert "nothing to rebuild from" in note.message and "no sidecars" in note.message
    assert main(["--dir", "db://", "--db-url", where["db_url"], "rebuild-index"]) == 0
    assert "nothing to rebuild from" in capsys.readouterr().out


def test_the_command_line_looks_after_a_database_store(saved, where, capsys):
    common = ["--dir", "db://", "--db-url", where["db_url"]]
    assert main([*common, "list"]) == 0
    assert "lr:2" in capsys.readouterr().out
    assert main([*common, "verify"]) == 0
    assert "2 files" in capsys.readouterr().out
    saved.archive_model("lr:1")
    assert main([*common, "gc"]) == 0
    assert "lr/v1.joblib" in capsys.readouterr().out and ("lr", 1) not in blobs_of(saved)


def test_migrate_from_a_file_store_into_the_database_and_back(where, small_data, tmp_path):
    X, y = small_data
    with ModelService(models_directory=tmp_path / "local") as local:
        local.train_model(LogisticRegression, X, y, model_id="lr", max_iter=500)
        local.save_model()
        local.train_model(DummyClassifier, X, y, model_id="dummy")
        local.save_model(save_format="skops")
        local.train_model(DummyClassifier, X, y, model_id="draft")  # a row without a file
        expected = {ref: local.get_model(ref).predict(X) for ref in ("lr:1", "dummy:1")}
        with ModelService(**where) as team:
            report = migrate_registry(local, team)
            assert report["ok"] and report["files_copied"] == 2 and report["versions"] == 3
            assert {k: v[0] for k, v in blobs_of(team).items()} == {("lr", 1): "lr/v1.joblib",
                                                                     ("dummy", 1): "dummy/v1.skops"}
            assert maintenance.verify(team).ok
            for ref, predictions in expected.items():
                assert (team.get_model(ref).predict(X) == predictions).all()
            assert migrate_registry(local, team)["skipped"] == ["draft:1", "dummy:1", "lr:1"]  # re-runnable
            with ModelService("sqlite", tmp_path / "back") as back:
                report = migrate_registry(team, back)
                assert report["ok"] and report["files_copied"] == 2
                assert maintenance.verify(back).ok  # files and their sidecars
                assert {"lr/v1.joblib", "lr/v1.json", "dummy/v1.skops"} <= set(files_under(tmp_path / "back"))
                for ref, predictions in expected.items():
                    assert (back.get_model(ref).predict(X) == predictions).all()


def test_migrate_refuses_a_file_over_the_target_limit_before_copying_its_row(where, small_data, tmp_path):
    X, y = small_data
    with ModelService(models_directory=tmp_path / "local") as local:
        local.train_model(RandomForestClassifier, X, y, model_id="rf", n_estimators=30, random_state=0)
        local.save_model()
        with ModelService(**where, storage_options={"max_bytes": 1000}) as team:
            report = migrate_registry(local, team)
            assert not report["ok"] and [f["ref"] for f in report["failed"]] == ["rf:1"]
            assert "larger than" in report["failed"][0]["reason"]
            assert team.list_models() == [] and blobs_of(team) == {}


def test_the_command_line_migrates_into_the_database(where, small_data, tmp_path, capsys):
    X, y = small_data
    with ModelService(models_directory=tmp_path / "local") as local:
        local.train_model(LogisticRegression, X, y, model_id="lr", max_iter=500)
        local.save_model()
    code = main(["--dir", str(tmp_path / "local"), "migrate", "--to", where["db_url"], "--copy-files", "db://"])
    assert code == 0, capsys.readouterr()
    with ModelService(**where) as team:
        assert set(blobs_of(team)) == {("lr", 1)} and team.load_model("lr")
        # and back out: without --copy-files, a db:// registry's models are copied into the target database
        out = f"sqlite:///{tmp_path / 'out.db'}"
        assert main(["--dir", "db://", "--db-url", where["db_url"], "migrate", "--to", out]) == 0
    with ModelService("sqlite", "db://", db_url=out) as copy:
        assert set(blobs_of(copy)) == {("lr", 1)} and copy.load_model("lr")


def test_a_registry_of_schema_version_2_gets_the_blob_table(where, small_data, tmp_path):
    X, y = small_data
    files = {**where, "models_directory": tmp_path / "files"}
    with ModelService(**files) as svc:
        svc.train_model(LogisticRegression, X, y, model_id="lr", max_iter=500)
        svc.save_model()
        with svc.registry.atomic() as conn:  # back to what version 2 wrote: no table added since
            downgrade(conn, 2)
            assert not sa.inspect(conn).has_table("model_blobs")
    with ModelService(**where) as upgraded:
        assert upgraded.registry.schema_version() == SCHEMA_VERSION
        upgraded.train_model(DummyClassifier, X, y, model_id="new")
        upgraded.save_model("new")
        assert set(blobs_of(upgraded)) == {("new", 1)}
        if where["db_type"] == "postgresql":  # stored uncompressed, out of line
            with upgraded.registry.atomic(write=False) as conn:
                storage = conn.exec_driver_sql("SELECT attstorage FROM pg_attribute WHERE attrelid = "
                                               "'model_blobs'::regclass AND attname = 'data'").scalar()
            assert storage == "e"
    with ModelService(**files) as old_files:  # versions saved to files before the upgrade still load
        assert old_files.load_model("lr")


# -- two processes sharing models through the database alone ---------------------------------------
def _share(where, workdir, c, barrier, queue):
    """Train and save ``shared`` with ``C=c``; once both did, load both versions and predict."""
    os.chdir(workdir)
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=120, n_features=6, n_informative=4, random_state=0)
    with ModelService(**where) as svc:
        barrier.wait(timeout=120)
        result = svc.train_model(LogisticRegression, X, y, model_id="shared", validation_split=0, C=c,
                                 max_iter=500)
        svc.save_model("shared")
        barrier.wait(timeout=120)
        seen = {}
        for version in (1, 2):
            svc.load_model(f"shared:{version}")
            seen[version] = (svc.model_metadata["model_params"]["C"], svc.predict_proba(X).tolist())
        queue.put((c, result["version"], seen, sorted(os.listdir(workdir))))


def test_two_processes_share_models_through_the_database_alone(where, small_data, tmp_path):
    X, y = small_data
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    dirs = [tmp_path / "one", tmp_path / "two"]
    procs = []
    for folder, c in zip(dirs, (0.1, 10.0)):
        folder.mkdir()
        procs.append(ctx.Process(target=_share, args=(where, str(folder), c, barrier, queue)))
        procs[-1].start()
    results = [queue.get(timeout=300) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    assert sorted(r[1] for r in results) == [1, 2]  # one version each
    expected = {}
    for c in (0.1, 10.0):
        expected[c] = LogisticRegression(C=c, max_iter=500).fit(X, y).predict_proba(X)
    for _c, _version, seen, listing in results:
        assert listing == []  # nothing written to either working folder
        for param, proba in seen.values():
            np.testing.assert_allclose(proba, expected[param])
        assert {param for param, _ in seen.values()} == {0.1, 10.0}  # each loaded the other's model too


@pytest.mark.parametrize("save_format", ["pickle", "joblib"])
def test_a_model_holding_a_large_array_saves_and_loads_back(where, save_format):
    """pickle protocol 5 hands the writer a large array as a PickleBuffer of float64 (not bytes):
    the store hashes it as the bytes it holds."""
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20_000, 8)), rng.integers(0, 2, 20_000)  # the fitted model keeps X: 1.3 MB
    with ModelService(**where, allow_pickle=True) as svc:
        svc.train_model(KNeighborsClassifier, X, y, model_id="knn", validation_split=0)
        expected = svc.predict(X[:50])
        assert svc.save_model("knn", save_format=save_format)
        row = svc.get_model_metadata("knn")
        data = svc.store.read_bytes(row["relative_path"])
        assert row["file_sha256"] == hashlib.sha256(data).hexdigest() and len(data) > 1_000_000
    with ModelService(**where, allow_pickle=True) as fresh:
        fresh.load_model("knn")
        np.testing.assert_array_equal(fresh.predict(X[:50]), expected)
