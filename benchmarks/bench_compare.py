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
