"""Models kept in the registry database (``models_directory="db://"``) against the file store.

For 1, 8 and 60 MB models, on SQLite and on PostgreSQL: ``save_model`` and a
verified ``load_model`` through the database store, as a ratio to the same
call through the file store (a local folder) with the same registry database,
measured in the same run. Medians of interleaved repeats (the machine is
shared and noisy). Run from the repository root:
``python -m benchmarks db_store``. PostgreSQL: a throwaway database on the
server of ``MODELSERVICE_BENCH_PG_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``), dropped at the end; skipped
when the server is not there.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_team import pg_database
from jupyter_modelservice import ModelService

SIZES_MB = (1, 8, 60)
REPEATS = {1: 9, 8: 7, 60: 5}


def _model(megabytes: int) -> Any:
    """A fitted estimator whose joblib file is about ``megabytes`` MB (a k-NN keeps its training data)."""
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(megabytes)
    rows = megabytes * 1_000_000 // (16 * 8 + 8)  # 16 float64 features and the encoded label per row
    X = rng.standard_normal((rows, 16))
    return KNeighborsClassifier(algorithm="brute").fit(X, (X[:, 0] > 0).astype(np.int8))


def _interleaved(pairs: list[tuple[Callable[[], Any], Callable[[], Any]]], repeats: int) -> list[float]:
    """Median seconds of each ``timed`` callable of ``(setup, timed)`` pairs, run in turn ``repeats`` times."""
    samples: list[list[float]] = [[] for _ in pairs]
    for _ in range(repeats):
        for (setup, timed), acc in zip(pairs, samples):
            setup()
            start = time.perf_counter()
            timed()
            acc.append(time.perf_counter() - start)
    return [statistics.median(s) for s in samples]


def _line(what: str, backend: str, size: str, ours: float, files: float) -> None:
    print(f"{what:<10} {size:>7}  {backend:<10}  db:// {ours * 1000:9.1f} ms  file store {files * 1000:9.1f} ms  "
          f"ratio {ours / files:5.2f} (information)", flush=True)


def bench(backend: str, db_url: str, folder: Path) -> None:
    """Save and load ratios of the database store to the file store on one registry database."""
    in_db = ModelService(backend, "db://", db_url=db_url)
    in_files = ModelService(backend, folder / "files", db_url=db_url)
    try:
        for megabytes in SIZES_MB:
            model = _model(megabytes)
            ids = {in_db: f"db_{megabytes}", in_files: f"files_{megabytes}"}
            for service, model_id in ids.items():  # warm up, and one saved version each to load
                service.register_model(model, model_id)
                service.save_model(model_id)
            size = f"{in_db.registry.get(ids[in_db])['file_bytes'] / 1e6:.1f} MB"

            def saving(service: ModelService) -> tuple[Callable[[], Any], Callable[[], Any]]:
                return (lambda: service.register_model(model, ids[service]), lambda: service.save_model(ids[service]))

            ours, files = _interleaved([saving(in_db), saving(in_files)], REPEATS[megabytes])
            _line("save_model", backend, size, ours, files)

            def loading(service: ModelService) -> tuple[Callable[[], Any], Callable[[], Any]]:
                ref = f"{ids[service]}:1"

                def forget() -> None:  # a real read, hash check and deserialization
                    service.current_model = None

                return forget, lambda: service.load_model(ref)

            ours, files = _interleaved([loading(in_db), loading(in_files)], REPEATS[megabytes])
            _line("load_model", backend, size, ours, files)
            for service, model_id in ids.items():  # keep the database small for the next size
                service.delete_model(model_id)
    finally:
        in_db.close()
        in_files.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-db-store-") as tmp:
        folder = Path(tmp)
        (folder / "sqlite").mkdir()
        bench("sqlite", f"sqlite:///{folder / 'sqlite' / 'registry.db'}", folder / "sqlite")
        with ExitStack() as stack:
            try:
                pg_url = stack.enter_context(pg_database())
            except Exception as err:  # noqa: BLE001 - a benchmark reports what it cannot run
                print(f"PostgreSQL skipped: {err}")
                return
            (folder / "pg").mkdir()
            bench("postgresql", pg_url.replace("postgresql://", "postgresql+psycopg://", 1), folder / "pg")


if __name__ == "__main__":
    main()
