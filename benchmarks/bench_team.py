"""Team-setup figures: PostgreSQL registry, S3 model files (moto), CV on a Dask cluster.

Every figure is printed with its target and a ratio against the bare library
doing the same work in the same run (psycopg, fsspec, joblib's loky backend);
medians of interleaved repeats, because the machine is shared and noisy.
Run from the repository root: ``python -m benchmarks.bench_team`` (or
``python -m benchmarks team``). A service that is not available is reported
and skipped. PostgreSQL: a throwaway database ``ms_bench_<random>`` on the
server of ``MODELSERVICE_BENCH_PG_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``), dropped at the end.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import joblib

from benchmarks.timing import median, median_pair
from jupyter_modelservice import ModelService

PG_ADMIN_URL = os.environ.get("MODELSERVICE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def line(name, value, target, ok, ratio=None, against=""):
    extra = f"  ratio {ratio:5.2f} vs {against}" if ratio is not None else ""
    print(f"{name:<52} {value:>12}  (target {target}){extra}  {'ok' if ok else 'OVER'}", flush=True)


def ratio_line(name, ours, bare, target, against, floor=None, floor_name=""):
    ratio = ours / bare
    text = (f"{name:<52} ours {ours * 1000:8.2f} ms  {against} {bare * 1000:8.2f} ms  "
            f"ratio {ratio:5.2f} (target ≤ {target})  {'ok' if ratio <= target else 'OVER'}")
    if floor is not None:
        text += f"\n{'':<52} {floor_name} {floor * 1000:8.2f} ms  ratio {ours / floor:5.2f} (information)"
    print(text, flush=True)


# -- services ---------------------------------------------------------------------------
@contextmanager
def pg_database():
    import psycopg

    admin_url = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    name = f"ms_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    head = admin_url.rpartition("/")[0]
    try:
        yield f"{head}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def moto_server():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    binary = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen([str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def _row(i: int) -> dict:
    """A registry row shaped like the ones train_model writes."""
    return {
        "model_id": f"model_{i % 5000:05d}", "version": i // 5000 + 1,
        "model_class": "RandomForestClassifier", "model_module": "sklearn.ensemble._forest",
        "model_params": {"n_estimators": 100, "max_depth": None, "random_state": i},
        "task_type": "classification", "training_samples": 800, "validation_samples": 200,
        "feature_count": 20, "feature_names": [f"f{k}" for k in range(20)],
        "train_score": 1.0, "validation_score": (i % 997) / 997, "scoring": "accuracy",
        "training_date": f"2026-01-01T00:00:{i:09d}", "status": ("trained", "saved", "production", "archived")[i % 4],
        "data_fingerprint": hashlib.sha256(str(i).encode()).hexdigest(),
        "environment": {"python": "3.11.7", "sklearn": "1.9.1", "numpy": "2.3", "joblib": "1.6.0"},
        "source": {"notebook": "team/churn.ipynb", "execution_count": i % 50}, "fit_seconds": 0.25,
    }


# -- PostgreSQL --------------------------------------------------------------------------
def bench_registration(url: str) -> None:
    import psycopg

    from jupyter_modelservice.registry import Registry

    registry = Registry(url.replace("postgresql://", "postgresql+psycopg://", 1))
    bare = psycopg.connect(url)
    row = _row(0)
    row.pop("version")
    insert = (f"INSERT INTO model_metadata (version, {', '.join(row)}) "
              f"VALUES ({', '.join(['%s'] * (len(row) + 1))})")

    def bare_params(i):
        return [1, *(f"bare_{tag}_{i}" if c == "model_id" else json.dumps(v) if isinstance(v, (dict, list)) else v
                     for c, v in row.items())]

    counter = iter(range(10**9))
    tag = uuid.uuid4().hex[:6]

    def ours_block(n=100):  # what train_model asks of the registry: allocate + insert + event, read back
        for _ in range(n):
            i = next(counter)
            version = registry.add_version({**row, "model_id": f"reg_{tag}_{i % 20}"})
            registry.get(f"reg_{tag}_{i % 20}", version)

    def bare_block(n=100):  # bare: one INSERT + COMMIT per version
        for _ in range(n):
            bare.execute(insert, bare_params(next(counter)))
            bare.commit()

    ours, base = (t / 100 for t in median_pair(ours_block, bare_block, 7))
    line("registration (add_version + read back), 1 process", f"{1 / ours:8.0f} /s", "≥ 300/s",
         1 / ours >= 300, ours / base, f"bare INSERT+COMMIT {1 / base:.0f}/s")
    bare.close()
    registry.close()


def bench_queries(url: str) -> None:
    import psycopg

    from jupyter_modelservice.registry import Registry
    from jupyter_modelservice.registry.schema import model_metadata

    registry = Registry(url.replace("postgresql://", "postgresql+psycopg://", 1))
    bare = psycopg.connect(url)

    rows = [_row(i) for i in range(100_000)]
    start = time.perf_counter()
    with registry.atomic() as conn:
        conn.execute(model_metadata.insert(), rows)  # one executemany
        conn.exec_driver_sql("ANALYZE model_metadata")
    print(f"{'(bulk insert of 100,000 versions, one executemany)':<52} {time.perf_counter() - start:9.2f} s",
          flush=True)

    ids = [f"model_{k:05d}" for k in range(0, 5000, 37)]
    cursor = bare.cursor()
    latest_sql = "SELECT * FROM model_metadata WHERE model_id = %s ORDER BY version DESC LIMIT 1"
    ours = median(lambda: [registry.get(m) for m in ids], 20) / len(ids)
    base = median(lambda: [cursor.execute(latest_sql, [m]).fetchall() for m in ids], 20) / len(ids)
    line("latest-version lookup (full row), 100,000 versions", f"{ours * 1000:8.3f} ms", "≤ 3 ms",
         ours <= 0.003, ours / base, "bare SELECT")
    ours_v = median(lambda: [registry.latest_version(m) for m in ids], 20) / len(ids)
    line("latest_version(id) number only, 100,000 versions", f"{ours_v * 1000:8.3f} ms", "≤ 3 ms",
         ours_v <= 0.003)

    service = ModelService(db_type="postgresql", db_url=registry.url,
                           models_directory=tempfile.mkdtemp(prefix="bench-team-"))
    list_sql = ("SELECT * FROM model_metadata ORDER BY training_date DESC, model_id, version DESC "
                "LIMIT 100")
    ours = median(lambda: service.list_models(limit=100), 30)
    base = median(lambda: cursor.execute(list_sql).fetchall(), 30)
    line("list_models(limit=100), newest first, 100,000 rows", f"{ours * 1000:8.2f} ms", "≤ 30 ms",
         ours <= 0.030, ours / base, "bare SELECT")
    ours = median(lambda: service.list_models(status="production", limit=100), 30)
    base = median(lambda: cursor.execute(list_sql.replace("ORDER", "WHERE status = 'production' ORDER"))
                 .fetchall(), 30)
    line("list_models(status='production', limit=100)", f"{ours * 1000:8.2f} ms", "≤ 30 ms",
         ours <= 0.030, ours / base, "bare SELECT")
    service.close()
    bare.close()
    registry.close()


# -- S3 ------------------------------------------------------------------------------------
def bench_s3(pg_url: str, options: dict) -> None:
    import s3fs
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    fs = s3fs.S3FileSystem(**options)
    fs.mkdir("bench")
    for n_estimators, n_samples, repeats in ((20, 5000, 9), (60, 15000, 7), (150, 30000, 5)):
        X, y = make_classification(n_samples=n_samples, n_features=20, random_state=0)
        model = RandomForestClassifier(n_estimators=n_estimators, random_state=0, n_jobs=-1).fit(X, y)
        buffer = io.BytesIO()
        joblib.dump(model, buffer)
        data = buffer.getvalue()
        size = f"{len(data) / 1e6:5.1f} MB"
        prefix = f"bench/{uuid.uuid4().hex[:8]}"
        for atomic_put in (True, False):
            where = dict(db_type="postgresql", db_url=pg_url, models_directory=f"s3://{prefix}-{atomic_put}",
                         storage_options=options)
            service = ModelService(**where)
            if not atomic_put:
                service.store.atomic_put = False
            bare_key = f"{prefix}/bare.joblib"

            def bare_write():
                fs.pipe_file(bare_key, data)

            model_id = f"rf{n_estimators}_{'put' if atomic_put else 'move'}"
            first = service.register_model(model, model_id)  # warm up, and a real sidecar for the floor
            service.save_model(model_id)
            sidecar = service.store.read_bytes(f"{model_id}/v{first['version']}.json")

            def floor_write():  # the work the design requires: serialize, hash, write, JSON sidecar
                out = io.BytesIO()
                joblib.dump(model, out)
                hashlib.sha256(out.getbuffer()).hexdigest()
                fs.pipe_file(bare_key, out.getvalue())
                fs.pipe_file(bare_key + ".json", sidecar)

            ours, base = median_pair(lambda: service.save_model(model_id), bare_write, repeats,
                                      setup=lambda: service.register_model(model, model_id))
            floor = median(floor_write, repeats)
            mode = "one PUT" if atomic_put else ".tmp object + move"
            ratio_line(f"S3 save_model {size} ({mode})", ours, base, 1.5, "bare write",
                       floor, "floor dump+sha256+write+sidecar")
            if not atomic_put:
                service.close()
                continue
            reader = ModelService(**where)
            ref = f"{model_id}:{service.registry.latest_version(model_id)}"

            def ours_load():
                reader.current_model = None  # a real read, hash check and deserialization
                reader.load_model(ref)

            def floor_load():
                got = fs.cat_file(bare_key)
                hashlib.sha256(got).hexdigest()
                joblib.load(io.BytesIO(got))

            ours, base = median_pair(ours_load, lambda: fs.cat_file(bare_key), repeats)
            floor = median(floor_load, repeats)
            ratio_line(f"S3 load_model {size}", ours, base, 1.5, "bare read ",
                       floor, "floor read+sha256+load ")
            reader.close()
            service.close()


# -- Dask ------------------------------------------------------------------------------------
def _one_second(make, X, y):
    """An estimator built by ``make(n)`` whose fit on 4/5 of the rows takes about a second."""
    start = time.perf_counter()
    make(10).fit(X[:3200], y[:3200])
    n = max(10, int(10 / (time.perf_counter() - start)))
    start = time.perf_counter()
    make(n).fit(X[:3200], y[:3200])
    return make(n), time.perf_counter() - start


def bench_dask() -> None:
    from distributed import Client, LocalCluster
    from sklearn.datasets import make_classification
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

    X, y = make_classification(n_samples=4000, n_features=20, random_state=0)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None)
    client = Client(cluster, set_as_default=False)
    with tempfile.TemporaryDirectory() as tmp:
        on_dask = ModelService(models_directory=tmp, parallel_backend="dask", scheduler=client)
        on_loky = ModelService(models_directory=tmp, parallel_backend="loky")
        warm = RandomForestClassifier(n_estimators=5)
        on_dask.cross_validate_model(warm, X, y, cv_folds=5)
        on_loky.cross_validate_model(warm, X, y, cv_folds=5, n_jobs=2)
        cases = (
            # A forest's fit is itself a joblib Parallel: joblib's Dask backend sends its trees
            # back to the cluster as tiny tasks (nested fan-out).
            ("RandomForest", lambda n: RandomForestClassifier(n_estimators=n, random_state=0)),
            ("GradientBoosting, no nested joblib",
             lambda n: GradientBoostingClassifier(n_estimators=n, random_state=0)),
        )
        for name, make in cases:
            estimator, fit = _one_second(make, X, y)
            results = {}

            def dask_run():
                results["dask"] = on_dask.cross_validate_model(estimator, X, y, cv_folds=5)

            def loky_run():
                results["loky"] = on_loky.cross_validate_model(estimator, X, y, cv_folds=5, n_jobs=2)

            ours, base = median_pair(dask_run, loky_run, 3)
            same = results["dask"]["cv_scores"] == results["loky"]["cv_scores"]
            print(f"{f'5-fold CV, {fit:.2f} s fits ({name})':<52} Dask 2 workers {ours:6.2f} s  "
                  f"loky n_jobs=2 {base:6.2f} s  ratio {ours / base:5.2f} (target ≤ 1.3)  "
                  f"{'ok' if ours / base <= 1.3 else 'OVER'}  same scores: {same}", flush=True)
        on_dask.close()
        on_loky.close()
    client.close()
    cluster.close()


def main() -> None:
    pg_url = None
    try:
        import psycopg  # noqa: F401

        pg = pg_database()
        pg_url = pg.__enter__()
    except Exception as err:  # noqa: BLE001 - a benchmark reports what it cannot run
        print(f"PostgreSQL skipped: {err}")
    try:
        if pg_url:
            bench_registration(pg_url)
            bench_queries(pg_url)
            try:
                import s3fs  # noqa: F401

                with moto_server() as options:
                    bench_s3(pg_url.replace("postgresql://", "postgresql+psycopg://", 1), options)
            except ImportError as err:
                print(f"S3 skipped: {err}")
    finally:
        if pg_url:
            pg.__exit__(None, None, None)
    try:
        import distributed  # noqa: F401
    except ImportError as err:
        print(f"Dask skipped: {err}")
    else:
        bench_dask()


if __name__ == "__main__":
    main()
