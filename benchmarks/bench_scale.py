"""The registry at 1,000,000 versions: lookups, pages, the browser and ``list --json``, SQLite and PostgreSQL.

The registry holds ``N`` versions over ``N / 100`` ids (bulk-inserted as in
`bench_where`: varied statuses, classes, scores, tags, metrics). Targets:
the latest version of an id ≤ 1 ms; a filtered or sorted page of 100 rows
≤ 20 ms; opening the `RegistryBrowser`, searching, filtering, sorting and
paging ≤ 300 ms; ``modelservice list --where ... --json`` writes its rows as
they come, so its peak memory (tracemalloc) for every match is about that for
1,000 of them. Each figure is the median of repeated runs.

``MODELSERVICE_BENCH_VERSIONS`` sets N (default 1,000,000).
``MODELSERVICE_BENCH_CACHE=DIR`` keeps the filled registries between runs (the
SQLite file in DIR, a PostgreSQL database named after N, both reused when
complete); without it they are temporary. Run: ``python -m benchmarks scale``.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from benchmarks.timing import median
from jupyter_modelservice import ModelService
from jupyter_modelservice.registry.schema import events, model_metadata, schema_info

N_VERSIONS = int(os.environ.get("MODELSERVICE_BENCH_VERSIONS", "1000000"))
CACHE = os.environ.get("MODELSERVICE_BENCH_CACHE")
REPEATS = 9
LOOKUP, PAGE, PANEL = 0.001, 0.020, 0.300  # the targets, in seconds
#: The query of the memory figure: about 10 % of the rows match.
CLI_WHERE = "validation_score >= 0.95"
CLASSES = ["RandomForestClassifier", "SVC", "LogisticRegression", "GradientBoostingClassifier"]
STATUSES = ["trained", "saved", "saved", "archived", "production"]
TEAMS = ["vision", "nlp", "ads", None]
_MARK = "bench_scale_rows"  # a schema_info row written once the registry is completely filled


def _chunks(n: int, size: int = 20_000) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    rng = np.random.default_rng(0)
    ids = max(n // 100, 1)
    for start in range(0, n, size):
        rows, history = [], []
        for i in range(start, min(n, start + size)):
            model_id, version = f"m{i % ids}", i // ids + 1
            team = TEAMS[i % len(TEAMS)]
            rows.append({
                "model_id": model_id, "version": version, "model_class": CLASSES[i % len(CLASSES)],
                "status": STATUSES[i % len(STATUSES)], "validation_score": float(rng.uniform(0.5, 1.0)),
                "train_score": float(rng.uniform(0.5, 1.0)), "training_samples": int(rng.integers(100, 10_000)),
                "training_date": f"2026-01-{1 + i % 28:02d}T00:00:00.{i:06d}+00:00",
                "tags": {"team": team} if team else None,
                "metrics": {"accuracy": float(rng.uniform(0.5, 1.0))} if i % 3 else None,
            })
            history.append({"model_id": model_id, "version": version, "event": "registered",
                            "to_status": rows[-1]["status"], "at": rows[-1]["training_date"]})
        yield rows, history


def _filled(service: ModelService, n: int) -> bool:
    with service.registry.atomic(write=False) as conn:
        mark = conn.execute(sa.select(schema_info.c.value).where(schema_info.c.key == _MARK)).scalar()
    return mark == str(n)


def _prefill(service: ModelService, n: int, label: str) -> None:
    if _filled(service, n):
        print(f"{label:<11} reusing the registry of {n:,} versions", flush=True)
        return
    start = time.perf_counter()
    with service.registry.atomic() as conn:
        for rows, history in _chunks(n):
            conn.execute(model_metadata.insert(), rows)
            conn.execute(events.insert(), history)
        conn.execute(schema_info.insert().values(key=_MARK, value=str(n)))
    # statistics for the planners; PostgreSQL's autovacuum (off on the test server) would also have
    # marked the pages all-visible, which index-only scans need
    with service.registry.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if service.registry.dialect == "postgresql" else "ANALYZE")
    print(f"{label:<11} bulk insert of {n:,} versions (setup) {time.perf_counter() - start:6.1f} s", flush=True)


def _line(label: str, name: str, seconds: float, target: float) -> None:
    verdict = "ok" if seconds <= target else "OVER"
    unit = f"{seconds * 1000:8.2f} ms" if seconds < 1 else f"{seconds:8.2f} s "
    print(f"{label:<11} {name:<56} {unit}  target ≤ {target * 1000:g} ms  {verdict}", flush=True)


def measure_queries(service: ModelService, label: str, n: int) -> None:
    ids = max(n // 100, 1)
    picks = iter(np.random.default_rng(1).integers(0, ids, 10 * REPEATS).tolist())
    _line(label, "latest version of an id (get_model_metadata)",
          median(lambda: service.get_model_metadata(f"m{next(picks)}"), 5 * REPEATS), LOOKUP)
    pages: list[tuple[str, dict[str, Any]]] = [
        ("newest 100", {}),
        ("100 by status (production)", {"status": "production"}),
        ("search 'm12'", {"search": "m12"}),
        ("search with no match", {"search": "zzz"}),
        ("search 'm1234' (one id)", {"search": "m1234"}),
        ("search 'forest' (a class: a quarter of the rows)", {"search": "forest"}),
        ("search 'm12', status production", {"search": "m12", "status": "production"}),
        ("latest_only=True", {"latest_only": True}),
        ("latest_only, by validation score ↓", {"latest_only": True, "order_by": "-validation_score"}),
        ("by validation score ↓", {"order_by": "-validation_score"}),
        ("by train score ↑", {"order_by": "train_score"}),
        ("by status", {"order_by": "status"}),
        ("by class", {"order_by": "model_class"}),
        ("by model id", {"order_by": "model_id"}),
        ("status production, by validation score ↓", {"status": "production", "order_by": "-validation_score"}),
        ("search 'm12', by validation score ↓", {"search": "m12", "order_by": "-validation_score"}),
        ("where validation_score >= 0.9 and status == 'saved'",
         {"where": "validation_score >= 0.9 and status == 'saved'"}),
    ]
    for name, filters in pages:
        _line(label, f"page of 100: {name}", median(lambda: service.list_models(limit=100, **filters), REPEATS),
              PAGE)


def measure_browser(service: ModelService, label: str) -> None:
    from benchmarks.bench_widgets import _install_json_comm
    from jupyter_modelservice.widgets import RegistryBrowser

    _install_json_comm()
    _line(label, "browser: open", median(lambda: RegistryBrowser(service, namespace={}), REPEATS), PANEL)
    browser = RegistryBrowser(service, namespace={})
    shown = browser.page_label.value

    def change(name: str, widget: Any, values: tuple[Any, Any]) -> None:
        flip = iter(values * (REPEATS + 1))
        _line(label, f"browser: {name}", median(lambda: setattr(widget, "value", next(flip)), 2 * REPEATS), PANEL)

    change("search 'm12' ↔ 'm34'", browser.search, ("m12", "m34"))
    change("search with no match ↔ 'm5'", browser.search, ("zzz", "m5"))
    browser.search.value = ""
    change("status filter production ↔ archived", browser.status_filter, ("production", "archived"))
    browser.status_filter.value = "all"
    change("sort validation score ↓ ↔ train score ↑", browser.sort, ("-validation_score", "train_score"))
    change("sort status ↔ class", browser.sort, ("status", "model_class"))
    browser.sort.value = "-training_date"
    browser.page = 0
    browser.refresh()
    _line(label, "browser: next page", median(browser.next_button.click, REPEATS), PANEL)
    print(f"{label:<11} browser: on opening it shows {shown!r}", flush=True)


class _Sink(io.TextIOBase):
    """A stdout that keeps only the number of characters written."""

    written = 0

    def write(self, text: str) -> int:
        self.written += len(text)
        return len(text)


def cli_peak(argv: list[str]) -> tuple[float, int, float]:
    """Peak traced memory (MB), characters written and seconds of ``modelservice argv``."""
    from jupyter_modelservice.cli import main

    sink = _Sink()
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(sink):
            status = main(argv)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert status == 0, status
    return peak / 1e6, sink.written, seconds


def measure_cli(options: list[str], label: str) -> None:
    few = cli_peak([*options, "--json", "list", "--where", CLI_WHERE, "--limit", "1000"])
    every = cli_peak([*options, "--json", "list", "--where", CLI_WHERE])
    for name, (peak, written, seconds) in (("1,000 rows", few), ("every match", every)):
        print(f"{label:<11} list --where {CLI_WHERE!r} --json, {name:<12} peak {peak:8.1f} MB  "
              f"{written / 1e6:7.1f} MB written  {seconds:6.2f} s", flush=True)
    print(f"{label:<11} peak memory, every match / 1,000 rows: {every[0] / few[0]:.1f}×  "
          f"(target: about 1×)", flush=True)


@contextlib.contextmanager
def _opened(label: str, **options: Any) -> Iterator[ModelService]:
    """The service, its opening timed (the schema upgrade of a registry filled by an older version)."""
    start = time.perf_counter()
    with ModelService(**options) as service:
        print(f"{label:<11} open the registry (upgrading its schema if older) "
              f"{time.perf_counter() - start:6.2f} s", flush=True)
        yield service


def _run(service: ModelService, label: str, cli_options: list[str]) -> None:
    _prefill(service, N_VERSIONS, label)
    measure_queries(service, label, N_VERSIONS)
    measure_browser(service, label)
    measure_cli(cli_options, label)


@contextlib.contextmanager
def _folder(name: str) -> Iterator[Path]:
    if CACHE:
        folder = Path(CACHE) / name
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
    else:
        with tempfile.TemporaryDirectory() as tmp:
            yield Path(tmp)


@contextlib.contextmanager
def _pg_url() -> Iterator[str]:
    """A database of the server: kept under a name of its own with a cache, else thrown away."""
    from benchmarks.bench_team import PG_ADMIN_URL, pg_database

    if not CACHE:
        with pg_database() as url:
            yield url
        return
    import psycopg

    admin_url = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    name = f"ms_bench_scale_{N_VERSIONS}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{admin_url.rpartition('/')[0]}/{name}"


def main() -> None:
    print(f"{N_VERSIONS:,} versions over {max(N_VERSIONS // 100, 1):,} ids; load {os.getloadavg()[0]:.2f}",
          flush=True)
    with _folder(f"sqlite-{N_VERSIONS}") as folder:
        with _opened("SQLite", models_directory=folder) as service:
            _run(service, "SQLite", ["--dir", str(folder)])
    try:
        context = _pg_url()
        url = context.__enter__()
    except Exception as err:  # noqa: BLE001 - a benchmark reports what it cannot run
        print(f"PostgreSQL not available ({err}): skipped", flush=True)
        return
    try:
        db_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        with _folder(f"pg-models-{N_VERSIONS}") as folder:
            with _opened("PostgreSQL", db_type="postgresql", db_url=db_url, models_directory=folder) as service:
                _run(service, "PostgreSQL", ["--db-url", db_url, "--dir", str(folder)])
    finally:
        context.__exit__(None, None, None)
    print(f"load {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
