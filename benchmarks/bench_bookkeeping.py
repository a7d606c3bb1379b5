"""What registering a trained version costs beyond the fit, with a large registry around it.

``train_model`` of a ``DummyClassifier`` on 50 rows against the bare work it
does anyway (``train_test_split``, ``fit``, the train and validation scores),
interleaved, in a registry already holding ``N`` versions over ``N / 100`` ids
(bulk-inserted: rows and their ``registered`` events). The difference is the
bookkeeping: the data fingerprint, provenance, the version allocated under the
id's lock with its letter-case check, the row, its event, the row read back.
Targets (issue 15): ≤ 1 ms per version on SQLite, ≤ 3 ms on PostgreSQL, at
100,000 versions. ``MODELSERVICE_BENCH_VERSIONS`` sets N (default 100,000).

Run: ``python -m benchmarks bookkeeping``.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from benchmarks.databases import each_database
from benchmarks.timing import median_pair
from jupyter_modelservice import ModelService
from jupyter_modelservice.registry.schema import events, model_metadata

N_VERSIONS = int(os.environ.get("MODELSERVICE_BENCH_VERSIONS", "100000"))
REPEATS = 400


def _prefill(service: ModelService, n: int) -> None:
    """``n`` versions over ``n // 100`` ids, inserted in bulk (as many sessions would have left them)."""
    rows, history = [], []
    for i in range(n):
        model_id, version = f"m{i % max(n // 100, 1)}", i // max(n // 100, 1) + 1
        rows.append({"model_id": model_id, "version": version, "model_class": "DummyClassifier",
                     "training_date": f"2026-01-01T00:00:{i % 60:02d}.{i:06d}+00:00", "status": "trained"})
        history.append({"model_id": model_id, "version": version, "event": "registered",
                        "to_status": "trained", "at": rows[-1]["training_date"]})
    with service.registry.atomic() as conn:
        for start in range(0, n, 20_000):
            conn.execute(model_metadata.insert(), rows[start:start + 20_000])
            conn.execute(events.insert(), history[start:start + 20_000])


def measure(service: ModelService, label: str, target_ms: float) -> None:
    from sklearn.dummy import DummyClassifier
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import train_test_split

    X = np.random.default_rng(0).normal(size=(50, 4))
    y = (X[:, 0] > 0).astype(int)
    scorer = get_scorer("accuracy")

    def bare() -> None:
        X_tr, X_val, y_tr, y_val = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
        model = DummyClassifier().fit(X_tr, y_tr)
        scorer(model, X_tr, y_tr)
        scorer(model, X_val, y_val)

    # a sweep under one id, then ids this session has not trained yet (their letter-case check runs first)
    for kind, name in (("one id", lambda i: "sweep"), ("a new id each", lambda i: f"m{i}")):
        calls = iter(range(10**9))
        ours, base = median_pair(
            lambda: service.train_model(DummyClassifier, X, y, model_id=name(next(calls))), bare, REPEATS)
        extra = (ours - base) * 1000
        print(f"{f'bookkeeping per train_model, {label}, {kind}':<70} {extra:7.3f} ms  (fit+score "
              f"{base * 1000:.2f} ms; {1 / ours:,.0f} versions/s)  target ≤ {target_ms} ms  "
              f"{'ok' if extra <= target_ms else 'OVER'}", flush=True)


def main() -> None:
    warnings.simplefilter("ignore")  # the unsaved models are let go of, with a warning each
    for label, service in each_database(max_unsaved=1):
        _prefill(service, N_VERSIONS)
        measure(service, f"{label}, {N_VERSIONS:,} versions", 1.0 if label == "SQLite" else 3.0)


if __name__ == "__main__":
    main()
