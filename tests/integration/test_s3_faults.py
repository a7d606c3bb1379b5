"""The team setup when S3 fails: clear errors, bounded waits, no leftovers of killed saves.

Faults are injected by a TCP proxy the test controls (`TcpProxy`) between
the store and the moto server: stopped (connections refused), black hole
(connections accepted, nothing answered) or stalled after a number of bytes.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import tempfile
import time
import warnings

import pytest
from sklearn.linear_model import LogisticRegression

from jupyter_modelservice import ModelService
from jupyter_modelservice.artifacts.formats import model_path
from jupyter_modelservice.artifacts.remote import FsspecStore
from jupyter_modelservice.cli import main
from jupyter_modelservice.exceptions import ArtifactError, InvalidInputError, ModelServiceError
from jupyter_modelservice.maintenance import collect_garbage
from jupyter_modelservice.migrate import migrate_registry

from .tcp_proxy import TcpProxy

pytestmark = [pytest.mark.s3]

KEY, SECRET = "AKIAPROXYKEY0001", "proxy-secret-value-9f3a"


@pytest.fixture(autouse=True)
def own_temp_dir(tmp_path, monkeypatch):
    """Stages of these saves go to the test's folder, not the system's temp folder."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))  # spawned children
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # this process
    return temp


@pytest.fixture
def proxy(s3_endpoint):
    proxy = TcpProxy(int(s3_endpoint.rsplit(":", 1)[1])).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def options(s3_options, proxy):
    """Storage options reaching moto through the proxy, with credentials we can look for."""
    return {**s3_options, "endpoint_url": proxy.endpoint, "key": KEY, "secret": SECRET}


@pytest.fixture
def team(pg_url, s3_url, options):
    with ModelService(db_type="postgresql", db_url=pg_url, models_directory=s3_url,
                      storage_options=options) as svc:
        yield svc


def assert_store_error(err: BaseException, store_url: str) -> None:
    text = str(err)
    assert isinstance(err, ArtifactError), f"{type(err).__name__}: {text}"
    assert store_url in text and "storage_options" in text, text
    assert KEY not in text and SECRET not in text and len(text.splitlines()) == 1


# -- every store operation: one clear error, fast --------------------------------
def _save(store):
    staged = store.stage("rf/v9.joblib", lambda fh: fh.write(b"abc"))
    try:
        store.publish(staged)
    finally:
        store.discard(staged)


OPERATIONS = {
    "stage+publish": _save,
    "read": lambda s: s.read_bytes("rf/v1.joblib"),
    "exists": lambda s: s.exists("rf/v1.joblib"),
    "delete": lambda s: s.delete("rf/v1.joblib"),
    "list": lambda s: list(s.iter_files()),
    "write_text": lambda s: s.write_text("rf/v1.json", "{}"),
}


@pytest.mark.parametrize("atomic_put", [True, False], ids=["put", "temp-object"])
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_unreachable_store_raises_artifact_error_quickly(proxy, options, s3_url, operation, atomic_put,
                                                        own_temp_dir):
    store = FsspecStore(s3_url, options, atomic_put=atomic_put)
    store.write_text("rf/v1.json", "{}")  # reachable before the fault
    proxy.stop()
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        OPERATIONS[operation](store)
    elapsed = time.monotonic() - started
    assert_store_error(caught.value, store.url)
    assert "could not be reached" in str(caught.value)
    assert elapsed < 3, f"{operation} took {elapsed:.1f} s to fail (botocore's defaults: 5-8 s)"
    proxy.start()
    assert store.exists("rf/v1.json")  # the same store works again once the network is back
    assert [p for p in own_temp_dir.rglob("*") if p.is_file()] == []  # a failed upload leaves no stage


def test_a_silent_endpoint_costs_two_attempts_and_the_bounds_are_configurable(proxy, options, s3_url):
    fast = {**options, "config_kwargs": {"read_timeout": 1}}
    store = FsspecStore(s3_url, fast)
    store.write_text("rf/v1.json", "{}")
    proxy.blackhole()
    before = proxy.accepted
    with pytest.raises(ArtifactError) as caught:
        store.read_bytes("rf/v1.json")
    assert_store_error(caught.value, store.url)
    assert proxy.accepted - before == 2  # s3fs (5) x botocore (5) = 25 attempts without the bounds

    once = {**fast, "config_kwargs": {"read_timeout": 1, "retries": {"total_max_attempts": 1}}, "retries": 1}
    before = proxy.accepted
    with pytest.raises(ArtifactError):
        FsspecStore(s3_url, once).exists("rf/v1.json")
    assert proxy.accepted - before == 1


# -- the service, the CLI and migrate on top of it ----------------------------------
@pytest.mark.postgres
def test_service_operations_fail_with_artifact_errors_and_recover(team, options, pg_url, s3_url, small_data,
                                                                  proxy):
    X, y = small_data
    team.train_model(LogisticRegression, X, y, model_id="lr")
    team.save_model("lr")
    team.train_model(LogisticRegression, X, y, model_id="lr", C=0.5)
    proxy.stop()

    with pytest.raises(ArtifactError) as caught:
        team.save_model("lr:2")
    assert_store_error(caught.value, team.store.url)
    row = team.registry.get("lr", 2)
    assert row["file_path"] is None and row["artifact_state"] is None  # back to "trained"

    with ModelService(db_type="postgresql", db_url=pg_url, models_directory=s3_url,
                      storage_options=options) as other:
        with pytest.raises(ArtifactError) as caught:
            other.load_model("lr:1")
        assert_store_error(caught.value, other.store.url)
        assert "missing" not in str(caught.value)  # unreachable is not "removed"
    with pytest.raises(ArtifactError) as caught:
        collect_garbage(team)
    assert_store_error(caught.value, team.store.url)
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        try:
            team.delete_model("lr:1")
        except ModelServiceError as err:  # not botocore's EndpointConnectionError
            assert_store_error(err, team.store.url)
    for warning in warned:  # a delete left for gc to finish says why
        assert team.store.url in str(warning.message) and SECRET not in str(warning.message)

    proxy.start()
    assert team.save_model("lr:2") and team.store.exists(model_path("lr", 2, "joblib"))


@pytest.mark.postgres
def test_cli_prints_one_line_when_the_store_is_unreachable(pg_url, s3_url, options, proxy, capsys,
                                                           monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    FsspecStore(s3_url).write_text("rf/v1.json", "{}")  # the environment reaches moto
    capsys.readouterr()
    proxy.stop()
    for command in (["verify"], ["gc", "--dry-run"], ["verify", "--repair"]):
        code = main(["--dir", s3_url, "--db-url", pg_url, *command])
        out, err = capsys.readouterr()
        assert code == 1
        assert len(err.strip().splitlines()) == 1, err
        assert err.startswith("modelservice: error: ") and s3_url in err and SECRET not in err + out


@pytest.mark.postgres
def test_migrate_reports_each_version_and_continues_then_finishes(tmp_path, pg_url, s3_url, options, proxy,
                                                                  small_data):
    X, y = small_data
    with ModelService(models_directory=tmp_path / "local") as source, \
            ModelService(db_type="postgresql", db_url=pg_url, models_directory=s3_url,
                         storage_options=options) as target:
        for model_id in ("a", "b", "c"):
            source.train_model(LogisticRegression, X, y, model_id=model_id)
            source.save_model()
        proxy.stop()
        report = migrate_registry(source, target)
        assert not report["ok"] and report["copied"] == []
        assert [f["ref"] for f in report["failed"]] == ["a:1", "b:1", "c:1"]
        assert all(target.store.url in f["reason"] and SECRET not in f["reason"] for f in report["failed"])

        proxy.start()
        again = migrate_registry(source, target)
        assert again["ok"] and sorted(again["resumed"]) == ["a:1", "b:1", "c:1"]
        for model_id in ("a", "b", "c"):
            assert (target.get_model(model_id).predict(X) == source.get_model(model_id).predict(X)).all()


# -- URLs whose listing cannot see their own files ------------------------------------
@pytest.mark.parametrize("url, clean", [("s3://ms-test//x", "s3://ms-test/x"),
                                        ("s3://ms-test/x//y/", "s3://ms-test/x/y"),
                                        ("s3://ms-test/./x", "s3://ms-test/x")])
def test_urls_with_empty_or_dot_segments_are_refused(s3_options, url, clean):
    with pytest.raises(InvalidInputError, match="segment") as caught:
        FsspecStore(url, s3_options)
    assert repr(clean) in str(caught.value)


# -- a version whose file vanished is written again by save_model -----------------------
@pytest.mark.postgres
def test_save_writes_a_vanished_file_again(team, pg_url, s3_url, options, small_data):
    X, y = small_data
    team.train_model(LogisticRegression, X, y, model_id="lr")
    team.save_model("lr")
    relpath = model_path("lr", 1, "joblib")
    team.store.delete(relpath)  # lost by an operator, a lifecycle rule, a bad sync
    assert team.save_model("lr")
    assert team.store.exists(relpath)
    with ModelService(db_type="postgresql", db_url=pg_url, models_directory=s3_url,
                      storage_options=options) as other:
        assert (other.get_model("lr").predict(X) == team.get_model("lr").predict(X)).all()


# -- a save killed mid-upload: its local stage and multipart upload are gc's to clean ------
def _save_big_model(pg_url, s3_url, options, nbytes):
    import numpy as np

    X = np.random.default_rng(0).normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    with ModelService(db_type="postgresql", db_url=pg_url, models_directory=s3_url,
                      storage_options=options) as svc:
        svc.train_model(LogisticRegression, X, y, model_id="big")
        svc.current_model.ballast_ = np.random.default_rng(1).bytes(nbytes)  # incompressible
        svc.save_model("big")


def _uploads(s3_options, s3_url):
    import s3fs

    fs = s3fs.S3FileSystem(**s3_options, skip_instance_cache=True)
    bucket, prefix = s3_url.removeprefix("s3://").split("/", 1)
    found = fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=prefix + "/")
    return found.get("Uploads", [])


@pytest.mark.postgres
def test_gc_cleans_the_stage_and_multipart_upload_of_a_killed_save(team, pg_url, s3_url, options, s3_options,
                                                                   proxy, own_temp_dir):
    temp = own_temp_dir
    # 110 MB go up as a multipart upload of 50 MB parts, one at a time: stall in the second part.
    proxy.stall_after(60 << 20)
    child = mp.get_context("spawn").Process(target=_save_big_model,
                                            args=(pg_url, s3_url, {**options, "max_concurrency": 1}, 110 << 20))
    child.start()
    deadline = time.monotonic() + 120
    while not proxy.holding:
        assert child.is_alive() and time.monotonic() < deadline, "the save ended before the stall"
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    proxy.start()

    stages = [p for p in team.store.staging_dir.iterdir()]
    assert len(stages) == 1 and stages[0].stat().st_size > 100 << 20
    assert [u["Key"] for u in _uploads(s3_options, s3_url)] == [f"{s3_url.split('/')[-1]}/big/v1.joblib"]
    assert [p for p in temp.iterdir() if p.is_file()] == []  # nothing loose in the temp dir

    young = collect_garbage(team)  # a save may still be running: kept
    assert {k.message for k in young.of("kept")} >= {"staged copy of a save that may be running",
                                                 "multipart upload of a save that may be running"}
    assert stages[0].exists() and len(_uploads(s3_options, s3_url)) == 1

    dry = collect_garbage(team, dry_run=True, now=time.time() + 7200)
    assert stages[0].exists() and len(_uploads(s3_options, s3_url)) == 1
    report = collect_garbage(team, now=time.time() + 7200)
    assert report.to_dict()["changes"] == dry.to_dict()["changes"]
    reasons = {item.message: item for item in report.of("removed")}
    assert reasons["staged copy of an interrupted save"].bytes > 100 << 20
    assert reasons["incomplete multipart upload of an interrupted save"].bytes == 50 << 20  # one part
    assert not stages[0].exists() and _uploads(s3_options, s3_url) == []


def test_stages_of_other_stores_are_kept_apart(s3_url, s3_options):
    mine, other = FsspecStore(s3_url, s3_options), FsspecStore(s3_url + "2", s3_options)
    assert mine.staging_dir != other.staging_dir
    assert mine.staging_dir == FsspecStore(s3_url + "/", s3_options).staging_dir
