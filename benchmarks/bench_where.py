"""The query language at 100,000 versions: a filtered page of 100 rows, on SQLite and PostgreSQL.

The registry holds ``N`` versions over ``N / 100`` ids with varied statuses,
classes, validation scores, tags and metrics (bulk-inserted). Each expression
is run as ``list_models(where=..., limit=100)`` (the rows a notebook or the
registry browser shows) and, for scale, as a count of every match. Target
(issue 13): ≤ 20 ms for the page. ``MODELSERVICE_BENCH_VERSIONS`` sets N.

Run: ``python -m benchmarks where``.
"""

from __future__ import annotations

import os

import numpy as np

from benchmarks.databases import each_database
from benchmarks.timing import median
from jupyter_modelservice import ModelService
from jupyter_modelservice.registry.schema import events, model_metadata

N_VERSIONS = int(os.environ.get("MODELSERVICE_BENCH_VERSIONS", "100000"))
EXPRESSIONS = [
    "validation_score >= 0.9",
    "status == 'production'",
    "validation_score >= 0.9 and (status == 'production' or tags.team == 'vision') "
    "and model_class in ('RandomForestClassifier', 'SVC')",
    "metrics.accuracy > 0.95 and not status == 'archived'",
    "tags.team == 'nlp' and training_samples < 500",
]
CLASSES = ["RandomForestClassifier", "SVC", "LogisticRegression", "GradientBoostingClassifier"]
STATUSES = ["trained", "saved", "saved", "archived", "production"]
TEAMS = ["vision", "nlp", "ads", None]


def _prefill(service: ModelService, n: int) -> None:
    rng = np.random.default_rng(0)
    ids = max(n // 100, 1)
    rows, history = [], []
    for i in range(n):
        model_id, version = f"m{i % ids}", i // ids + 1
        team = TEAMS[i % len(TEAMS)]
        rows.append({
            "model_id": model_id, "version": version, "model_class": CLASSES[i % len(CLASSES)],
            "status": STATUSES[i % len(STATUSES)], "validation_score": float(rng.uniform(0.5, 1.0)),
            "training_samples": int(rng.integers(100, 10_000)),
            "training_date": f"2026-01-{1 + i % 28:02d}T00:00:00.{i:06d}+00:00",
            "tags": {"team": team} if team else None,
            "metrics": {"accuracy": float(rng.uniform(0.5, 1.0))} if i % 3 else None,
        })
        history.append({"model_id": model_id, "version": version, "event": "registered",
                        "to_status": rows[-1]["status"], "at": rows[-1]["training_date"]})
    with service.registry.atomic() as conn:
        for start in range(0, n, 20_000):
            conn.execute(model_metadata.insert(), rows[start:start + 20_000])
            conn.execute(events.insert(), history[start:start + 20_000])


def measure(service: ModelService, label: str) -> None:
    for text in EXPRESSIONS:
        page = median(lambda: service.list_models(where=text, limit=100), 15)
        found = service.registry.count(where=text)
        total = median(lambda: service.registry.count(where=text), 5)
        print(f"{label:<11} page of 100 {page * 1000:7.2f} ms  (count of all {found:>6,} matches "
              f"{total * 1000:6.1f} ms)  target ≤ 20 ms  {'ok' if page <= 0.020 else 'OVER'}  {text}", flush=True)


def main() -> None:
    for label, service in each_database():
        _prefill(service, N_VERSIONS)
        if label == "PostgreSQL":
            with service.registry.atomic() as conn:
                conn.exec_driver_sql("ANALYZE")
        measure(service, label)


if __name__ == "__main__":
    main()
