"""Widget figures: the RegistryBrowser over 10,000 versions.

Opening the browser and every filter / sort / page change must render in
≤ 300 ms of kernel time. Each figure is printed next to its floor, the two SQL
queries a page needs whatever draws it (``Registry.count`` + ``Registry.list``
of one page), measured in the same run. Widget messages go through a comm that
JSON-encodes them as a kernel would, so their cost is counted (and their number
and size are printed). Rows are bulk-inserted through the registry's table,
not trained. Run: ``python -m benchmarks.bench_widgets`` (or ``python -m benchmarks widgets``).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.timing import median

BUDGET = 0.300  # seconds of kernel time per render
N_VERSIONS = 10_000
REPEATS = 15

_CLASSES = ("RandomForestClassifier", "LogisticRegression", "GradientBoostingClassifier",
            "SVC", "KNeighborsClassifier", "HistGradientBoostingClassifier", "Ridge", "Lasso")
_STATUSES = ("trained", "saved", "saved", "archived", "production")


class _Traffic:
    """Counts the widget messages and the bytes of their JSON encoding."""

    messages = 0
    bytes = 0


def _install_json_comm() -> None:
    """Make every new widget comm JSON-encode what it sends, as a kernel's comm does."""
    import comm
    from comm.base_comm import BaseComm

    class JsonComm(BaseComm):
        def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None,
                        buffers: Any = None, **keys: Any) -> None:
            encoded = json.dumps({"msg_type": msg_type, "data": data, "metadata": metadata},
                                 default=str)
            _Traffic.messages += 1
            _Traffic.bytes += len(encoded) + sum(len(b) for b in buffers or ())

    comm.create_comm = lambda *args, **kwargs: JsonComm(*args, **kwargs)


def _rows(n: int) -> list[dict[str, Any]]:
    env = {"python": "3.11.7", "platform": "linux", "sklearn": "1.9.1", "numpy": "2.3.0",
           "joblib": "1.5.0"}
    rows = []
    for i in range(n):
        cls = _CLASSES[i % len(_CLASSES)]
        regression = cls in ("Ridge", "Lasso")
        status = _STATUSES[i % len(_STATUSES)]
        day, second = divmod(i, 86_400 // 8)
        rows.append({
            "model_id": f"{cls.lower()[:12]}_{i // 40:04d}",
            "version": i % 40 + 1,
            "model_class": cls,
            "model_module": "sklearn.ensemble",
            "model_params": {"n_estimators": 100 + i % 7, "max_depth": None, "random_state": i},
            "task_type": "regression" if regression else "classification",
            "training_samples": 455, "validation_samples": 114, "feature_count": 30,
            "feature_names": [f"f{j}" for j in range(30)],
            "train_score": 0.9 + (i % 97) / 1000,
            "validation_score": 0.8 + (i % 991) / 5000,
            "scoring": "r2" if regression else "accuracy",
            "metrics": {"accuracy": 0.95, "f1_score": 0.94} if i % 3 == 0 else None,
            "training_date": f"2026-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}T"
                             f"{second * 8 // 3600:02d}:{second * 8 // 60 % 60:02d}:"
                             f"{second * 8 % 60:02d}.{i % 1_000_000:06d}+00:00",
            "status": status,
            "file_path": None if status == "trained" else f"m/v{i}.joblib",
            "file_format": None if status == "trained" else "joblib",
            "data_fingerprint": f"sha256:{i:064x}",
            "environment": env,
            "source": {"kind": "ipython", "execution_count": i % 50, "notebook": "study.ipynb"},
            "fit_seconds": 0.01 * (i % 300),
        })
    return rows


def _median(fn: Any, repeats: int = REPEATS) -> float:
    return median(fn, repeats)


def _line(name: str, seconds: float, floor: float | None, messages: float | None = None,
          kbytes: float | None = None) -> None:
    verdict = "ok" if seconds <= BUDGET else "OVER"
    floor_text = f"floor {floor * 1000:7.1f} ms  ×{seconds / floor:5.1f}" if floor else " " * 24
    traffic = f"  {messages:4.0f} msgs {kbytes:6.1f} kB" if messages is not None else ""
    print(f"{name:<46} {seconds * 1000:7.1f} ms  {floor_text}  (budget ≤ {BUDGET * 1000:.0f} ms) "
          f"{verdict}{traffic}", flush=True)


def main() -> None:
    start = time.perf_counter()
    import ipywidgets  # noqa: F401  (imported by the notebook already; timed apart)

    widgets_import = time.perf_counter() - start
    start = time.perf_counter()
    from jupyter_modelservice.widgets import RegistryBrowser

    browser_import = time.perf_counter() - start
    from jupyter_modelservice import ModelService
    from jupyter_modelservice.registry.schema import model_metadata

    _install_json_comm()
    print(f"{'import ipywidgets (once per kernel)':<46} {widgets_import * 1000:7.1f} ms")
    print(f"{'import jupyter_modelservice.widgets (once)':<46} {browser_import * 1000:7.1f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        service = ModelService(models_directory=Path(tmp) / "models")
        registry = service.registry
        start = time.perf_counter()
        with registry.atomic() as conn:
            conn.execute(model_metadata.insert(), _rows(N_VERSIONS))
        print(f"{'bulk insert of 10,000 versions (setup)':<46} {time.perf_counter() - start:7.2f} s")
        page = 15

        def floor(status: str | None = None, search: str | None = None,
                  order_by: str = "-training_date", offset: int = 0) -> float:
            return _median(lambda: (registry.count(status=status, search=search),
                                    registry.list(status=status, search=search, order_by=order_by,
                                                  limit=page, offset=offset)))

        _Traffic.messages = _Traffic.bytes = 0
        start = time.perf_counter()
        browser = RegistryBrowser(service, namespace={}, page_size=page)
        first = time.perf_counter() - start
        _line("open the browser (first time)", first, floor(), _Traffic.messages,
              _Traffic.bytes / 1000)
        assert browser.total_ == N_VERSIONS, browser.total_

        _Traffic.messages = _Traffic.bytes = 0
        opened = _median(lambda: RegistryBrowser(service, namespace={}, page_size=page))
        _line("open the browser (median)", opened, floor(), _Traffic.messages / REPEATS,
              _Traffic.bytes / 1000 / REPEATS)

        def change(name: str, widget: Any, values: tuple[Any, Any], fl: float) -> None:
            flip = iter(values * REPEATS)
            _Traffic.messages = _Traffic.bytes = 0
            seconds = _median(lambda: setattr(widget, "value", next(flip)), 2 * REPEATS)
            _line(name, seconds, fl, _Traffic.messages / (2 * REPEATS),
                  _Traffic.bytes / 1000 / (2 * REPEATS))

        change("search 'forest' ↔ 'logistic'", browser.search, ("forest", "logistic"),
               floor(search="forest"))
        browser.search.value = ""
        change("status filter production ↔ archived", browser.status_filter,
               ("production", "archived"), floor(status="production"))
        browser.status_filter.value = "all"
        change("sort validation score ↓ ↔ train score ↑", browser.sort,
               ("-validation_score", "train_score"), floor(order_by="-validation_score"))
        browser.sort.value = "-training_date"
        browser.search.value = "no such model"
        change("search with no match ↔ 'svc'", browser.search, ("no such model", "svc"),
               floor(search="svc"))
        browser.search.value = ""

        last = browser.page_count - 1

        def to_last() -> None:
            browser.page = last
            browser.next_button.click()  # clamped to the last page: re-renders it

        seconds = _median(to_last)
        _line(f"last page ({last + 1:,}, offset {last * page:,})", seconds, floor(offset=last * page))
        browser.page = 0
        browser.refresh()
        _Traffic.messages = _Traffic.bytes = 0
        seconds = _median(browser.next_button.click)
        _line("next page", seconds, None, _Traffic.messages / REPEATS, _Traffic.bytes / 1000 / REPEATS)
        refs = [value for _, value in browser.table.options]
        flip = iter(refs * REPEATS)
        seconds = _median(lambda: setattr(browser.table, "value", (next(flip),)))
        _line("select a row (details, no model file)", seconds, None)
        service.close()


if __name__ == "__main__":
    sys.exit(main())
