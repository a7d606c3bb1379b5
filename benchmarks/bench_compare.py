"""A second comparison of the same models on the same data reuses the stored evaluations.

A 500-tree forest and a logistic regression, trained on 50,000 rows and saved,
are compared on 50,000 test rows, each time from a fresh ``ModelService`` (a
notebook reopened): the first comparison loads the models, predicts,
computes the paired intervals and records everything; the second finds the
stored predictions of that data and the kept bootstrap values of each
version, so it neither loads, predicts nor resamples. Budget: second ≤ 20 %
of the first (issue 12). For scale, the bare libraries doing the first
comparison's necessary work (``joblib.load`` of both files, ``predict`` and
``predict_proba``, the five metrics, the report and confusion matrix) are timed in the same run, and the floor
adds the paired bootstrap the comparison needs (`paired_comparison` on those
predictions).

Run: ``python -m benchmarks bench_compare``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from jupyter_modelservice import ModelService

N_TRAIN = N_TEST = 50_000
REPEATS = 3
TARGET = 0.20
BOOT_ROWS, BOOT_MODELS, BOOT_RESAMPLES = 100_000, 5, 1000


def _gathered(metric, y_true, prediction, indices):
    """The metric of one model on each resample, from its arrays gathered by the indices (the old way)."""
    import numpy as np

    from jupyter_modelservice.evaluation import resampling

    indices = indices.indices  # the chunk of resamples `paired_comparison` shares
    y_pred = np.asarray(prediction["y_pred"])
    if metric == "accuracy":
        return (y_pred == y_true)[indices].mean(axis=1)
    if metric == "roc_auc":
        return resampling._auc_loop(y_true == prediction["classes"][1], prediction["y_score"][:, 1], indices)
    labels, codes = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    k = labels.size
    pair = codes[: y_true.size] * k + codes[y_true.size:]
    offsets = (np.arange(indices.shape[0]) * k * k)[:, None]
    cm = np.bincount((pair[indices] + offsets).ravel(), minlength=indices.shape[0] * k * k)
    return resampling._weighted_from_confusions(metric, cm.reshape(indices.shape[0], k, k).astype(float))


def _bootstrap() -> None:
    import numpy as np

    from jupyter_modelservice.evaluation import resampling, significance

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=BOOT_ROWS)
    predictions = {}
    for m in range(BOOT_MODELS):
        score = np.clip(0.5 + (y - 0.5) * 0.4 + rng.normal(scale=0.3 + 0.1 * m, size=BOOT_ROWS), 0, 1)
        predictions[f"m{m}"] = {"y_pred": (score > 0.5).astype(int), "y_score": np.c_[1 - score, score],
                                "classes": [0, 1]}
    values = {m: 0.8 - 0.01 * i for i, m in enumerate(predictions)}  # the reference model only
    import scipy.stats  # noqa: F401  (imported before timing: the McNemar test of accuracy needs it)
    import sklearn.metrics  # noqa: F401

    real = resampling.resampled
    for metric in ("accuracy", "f1_score", "roc_auc"):
        times: list[list[float]] = [[], []]
        boots: list[dict] = [{}, {}]
        for _ in range(2):  # interleaved, the best of two: the machine is shared and noisy
            for i, resampled in enumerate((real, _gathered)):
                resampling.resampled = resampled
                try:
                    boot: dict = {}
                    start = time.perf_counter()
                    significance.paired_comparison(y, predictions, metric, values, n_bootstrap=BOOT_RESAMPLES,
                                                   bootstrap=boot)
                    times[i].append(time.perf_counter() - start)
                    boots[i] = boot
                finally:
                    resampling.resampled = real
        new, old = min(times[0]), min(times[1])
        assert all(np.array_equal(boots[0][m], boots[1][m], equal_nan=True) for m in predictions), metric
        print(f"{'paired bootstrap, ' + metric:<52} {new:8.3f} s  (gathered by indices {old:.3f} s, "
              f"ratio {new / old:.2f}; {BOOT_RESAMPLES:,} resamples × {BOOT_MODELS} models × "
              f"{BOOT_ROWS:,} rows)", flush=True)


def _setup(folder: Path):
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(n_samples=N_TRAIN + N_TEST, n_features=20, n_informative=8, flip_y=0.05,
                               random_state=0)
    X_tr, y_tr, X_te, y_te = X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]
    start = time.perf_counter()
    with ModelService(models_directory=folder) as service:
        # depth-bounded (a 14 MB file) and bootstrap-subsampled to keep the setup short; predicting still
        # walks 500 trees for every test row
        service.train_model(RandomForestClassifier, X_tr, y_tr, model_id="forest", n_estimators=500, max_depth=8,
                            max_samples=0.3, n_jobs=-1, random_state=0)
        service.train_model(LogisticRegression, X_tr, y_tr, model_id="logreg", max_iter=1000)
        for model_id in ("forest", "logreg"):
            service.save_model(model_id)
        paths = [service.get_model_metadata(m)["file_path"] for m in ("forest", "logreg")]
    print(f"setup: trained and saved a 500-tree forest and a logistic regression on {N_TRAIN:,} rows "
          f"in {time.perf_counter() - start:.0f} s", flush=True)
    return X_te, y_te, paths


def _bare(X_te, y_te, paths) -> tuple[dict, dict]:
    import joblib
    from sklearn import metrics

    predictions, accuracy = {}, {}
    for path in paths:
        model = joblib.load(path)
        y_pred, proba = model.predict(X_te), model.predict_proba(X_te)
        accuracy[path] = metrics.accuracy_score(y_te, y_pred)
        metrics.precision_recall_fscore_support(y_te, y_pred, average="weighted", zero_division=0)
        metrics.roc_auc_score(y_te, proba[:, 1])
        metrics.classification_report(y_te, y_pred, output_dict=True, zero_division=0)
        metrics.confusion_matrix(y_te, y_pred)
        predictions[path] = {"y_pred": y_pred, "y_score": proba, "classes": [0, 1]}
    return predictions, accuracy


def _floor(X_te, y_te, paths) -> None:
    from jupyter_modelservice.evaluation.significance import paired_comparison

    predictions, accuracy = _bare(X_te, y_te, paths)
    paired_comparison(y_te, predictions, "accuracy", accuracy)


def main() -> None:
    _bootstrap()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "models"
        X_te, y_te, paths = _setup(folder)
        first, second, bare, floor = [], [], [], []
        frames = []
        for _ in range(REPEATS):  # interleaved: the machine is shared and noisy
            for refresh, times in ((True, first), (False, second)):
                with ModelService(models_directory=folder) as service:  # a fresh session each time
                    start = time.perf_counter()
                    frames.append(service.compare_models(["forest", "logreg"], X_te, y_te, refresh=refresh))
                    times.append(time.perf_counter() - start)
            for fn, times in ((_bare, bare), (_floor, floor)):
                start = time.perf_counter()
                fn(X_te, y_te, paths)
                times.append(time.perf_counter() - start)
        assert all(f.attrs["reused"] == ["forest:1", "logreg:1"] for f in frames[1::2])
        assert all(f[["accuracy", "ci_low", "ci_high"]].equals(frames[0][["accuracy", "ci_low", "ci_high"]])
                   for f in frames)
        f, s, b, fl = (statistics.median(t) for t in (first, second, bare, floor))
        ratio = s / f
        print(f"{'compare_models, first (load, predict, test, record)':<52} {f:8.3f} s  "
              f"(bare load+predict+metrics {b:.3f} s, ratio {f / b:.2f}; floor with the paired bootstrap "
              f"{fl:.3f} s, ratio {f / fl:.2f})", flush=True)
        print(f"{'compare_models, second (stored predictions reused)':<52} {s:8.3f} s  "
              f"ratio to the first {ratio:5.3f} (target ≤ {TARGET})  {'ok' if ratio <= TARGET else 'OVER'}",
              flush=True)


if __name__ == "__main__":
    main()
