"""Core figures: train/save/load overhead, registry speed at 100,000 versions, import time.

Every figure is a ratio against the bare library doing the same necessary work,
measured in the same run (the machine is shared and noisy; medians of
interleaved repeats). Run: ``python -m benchmarks bench_core``.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import joblib

from benchmarks.timing import median, median_pair
from jupyter_modelservice import ModelService
from jupyter_modelservice.registry.schema import model_metadata


def report(name, ours, bare, target, unit="s"):
    ratio = ours / bare
    verdict = "ok" if ratio <= target else "OVER"
    scale = 1000 if unit == "ms" else 1
    print(f"{name:<58} ours {ours * scale:9.3f} {unit}  bare {bare * scale:9.3f} {unit}  "
          f"ratio {ratio:5.3f} (target ≤ {target})  {verdict}", flush=True)


def bench_train(tmp: Path) -> None:
    from sklearn.datasets import make_classification
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import train_test_split

    service = ModelService(models_directory=tmp / "train")
    X, y = make_classification(n_samples=6000, n_features=20, random_state=0)
    params = {"n_estimators": 60, "random_state": 0, "n_jobs": 1}
    X_tr, X_val, y_tr, y_val = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    scorer = get_scorer("accuracy")

    def bare():
        model = RandomForestClassifier(**params).fit(X_tr, y_tr)
        scorer(model, X_tr, y_tr)
        scorer(model, X_val, y_val)

    ours, base = median_pair(lambda: service.train_model(RandomForestClassifier, X, y, model_id="rf", **params),
                              bare, 5)
    report(f"train_model, {base:.2f} s fit+score (RandomForest)", ours, base, 1.05)

    Xs, ys = X[:1000], y[:1000]
    Xs_tr, Xs_val, ys_tr, ys_val = train_test_split(Xs, ys, test_size=0.2, random_state=0, stratify=ys)

    def bare_small():
        model = DummyClassifier().fit(Xs_tr, ys_tr)
        scorer(model, Xs_tr, ys_tr)
        scorer(model, Xs_val, ys_val)

    ours, base = median_pair(lambda: service.train_model(DummyClassifier, Xs, ys, model_id="dummy"),
                              bare_small, 30)
    print(f"{'train_model fixed overhead per call (DummyClassifier)':<58} {(ours - base) * 1000:9.3f} ms  "
          f"(target < 10 ms)  {'ok' if ours - base < 0.010 else 'OVER'}", flush=True)
    service.close()


def _fsync_dump(model, path: Path) -> None:
    joblib.dump(model, path)
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def bench_files(tmp: Path, n_estimators: int, n_samples: int) -> None:
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    X, y = make_classification(n_samples=n_samples, n_features=20, random_state=0)
    model = RandomForestClassifier(n_estimators=n_estimators, random_state=0, n_jobs=-1).fit(X, y)
    service = ModelService(models_directory=tmp / f"files{n_estimators}")
    bare_path = tmp / f"bare{n_estimators}.joblib"
    _fsync_dump(model, bare_path)
    size_mb = bare_path.stat().st_size / 1e6

    repeats = 5 if size_mb > 50 else 15
    ours, base = median_pair(lambda: service.save_model("rf"), lambda: _fsync_dump(model, bare_path),
                              repeats, setup=lambda: service.register_model(model, "rf"))
    report(f"save_model {size_mb:6.1f} MB vs joblib.dump + fsync", ours, base, 1.15)

    fresh = ModelService(models_directory=tmp / f"files{n_estimators}")
    ref = f"rf:{service.registry.latest_version('rf')}"

    def floor_load():
        data = bare_path.read_bytes()
        hashlib.sha256(data).hexdigest()
        joblib.load(bare_path)

    def ours_load():
        fresh.current_model = None  # force a real read, hash check and deserialization
        fresh.load_model(ref)

    ours, base = median_pair(ours_load, lambda: joblib.load(bare_path), repeats)
    report(f"load_model {size_mb:6.1f} MB vs joblib.load", ours, base, 1.15)
    ours, floor = median_pair(ours_load, floor_load, repeats)
    report(f"load_model {size_mb:6.1f} MB vs read + sha256 + joblib.load", ours, floor, 1.15)
    service.close()
    fresh.close()


def bench_small_save(tmp: Path) -> None:
    """Register a fitted ~4 MB forest with its data and save it, against joblib.dump + fsync of it.

    The fixed part of a save shows at this size: the data fingerprint, the behaviour probe's
    predictions on five rows, two transactions, the sidecar, the folder's fsync (issue 15's target:
    ≤ 1.15× the floor + 2 ms).
    """
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    X, y = make_classification(n_samples=12000, n_features=20, random_state=0)
    for n_jobs in (None, -1):
        model = RandomForestClassifier(n_estimators=40, random_state=0, n_jobs=n_jobs).fit(X, y)
        service = ModelService(models_directory=tmp / f"small{n_jobs}")
        bare_path = tmp / f"small{n_jobs}.joblib"
        _fsync_dump(model, bare_path)
        size_mb = bare_path.stat().st_size / 1e6

        def ours(model=model, service=service):
            service.register_model(model, "rf", X=X, y=y)
            service.save_model("rf")

        ours_s, base = median_pair(ours, lambda: _fsync_dump(model, bare_path), 21)
        report(f"register(X, y) + save, {size_mb:.1f} MB forest, n_jobs={n_jobs}", ours_s, base,
               round((1.15 * base + 0.002) / base, 3))
        service.close()


def bench_registry(tmp: Path, n: int = 100_000) -> None:
    service = ModelService(models_directory=tmp / "registry")
    registry = service.registry
    statuses = ["trained", "saved", "production", "archived"]
    rows = [
        {"model_id": f"model_{i % 5000:05d}", "version": i // 5000 + 1, "model_class": "RandomForestClassifier",
         "model_params": {"n_estimators": 100}, "train_score": 0.9, "validation_score": (i % 997) / 997,
         "training_date": f"2026-01-01T00:00:{i:09d}", "status": statuses[i % 4], "task_type": "classification"}
        for i in range(n)
    ]
    with registry.atomic() as conn:
        conn.execute(model_metadata.insert(), rows)

    latest = median(lambda: registry.latest_version("model_04321"), 500)
    print(f"{'latest-version lookup, 100,000 versions':<58} {latest * 1000:9.3f} ms  (target ≤ 1 ms)  "
          f"{'ok' if latest <= 0.001 else 'OVER'}")
    listing = median(lambda: service.list_models(status="production", limit=100), 50)
    print(f"{'list_models(status=...) -> 100 rows, 100,000 versions':<58} {listing * 1000:9.3f} ms  "
          f"(target ≤ 20 ms)  {'ok' if listing <= 0.020 else 'OVER'}")
    count = 2000
    start = time.perf_counter()
    for i in range(count):
        registry.add_version({"model_id": f"new_{i % 50}", "model_class": "LogisticRegression"})
    rate = count / (time.perf_counter() - start)
    print(f"{'single-version registration rate':<58} {rate:9.0f} /s  (target ≥ 1,000/s)  "
          f"{'ok' if rate >= 1000 else 'OVER'}")
    service.close()


def bench_import() -> None:
    def run(code):
        samples = []
        for _ in range(7):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    base = run("pass")
    pkg = run("import jupyter_modelservice") - base
    svc = run("from jupyter_modelservice import ModelService") - base
    print(f"{'import jupyter_modelservice (minus bare interpreter)':<58} {pkg * 1000:9.1f} ms  "
          f"(target ≤ 150 ms)  {'ok' if pkg <= 0.150 else 'OVER'}")
    print(f"{'from jupyter_modelservice import ModelService':<58} {svc * 1000:9.1f} ms  (information)")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bench_import()
        bench_registry(tmp)
        bench_train(tmp)
        bench_small_save(tmp)
        bench_files(tmp, n_estimators=60, n_samples=15000)    # ~4 MB
        bench_files(tmp, n_estimators=380, n_samples=40000)   # ~120 MB


if __name__ == "__main__":
    main()
