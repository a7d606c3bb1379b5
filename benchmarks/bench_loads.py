"""Verified loads against the bare loaders, per format and size, with their peak memory.

A verified load reads the file once and deserializes exactly the bytes it checked:
chunk by chunk against the registered chunk digests while it deserializes (files
saved before they were kept: the whole file against its BLAKE3, or its sha256).
Each figure is a ratio against the bare loader of the same file in the same run
(``joblib.load(path)``, ``pickle.load(file)``, ``skops.io.load(path)`` after
``skops.io.get_untrusted_types``), medians
of interleaved repeats; the whole-file BLAKE3 and sha256 checks (what older rows
cost) are shown beside it. Peak memory (tracemalloc: Python objects and NumPy arrays) is
reported as the verified load's peak over the bare load's.
Run: ``python -m benchmarks bench_loads``.
"""

from __future__ import annotations

import pickle
import tempfile
import tracemalloc
from pathlib import Path

import joblib

from benchmarks.timing import median_pair
from jupyter_modelservice import ModelService

#: (label, RandomForest size): ~8 MB and ~120 MB joblib files
SIZES = (("8 MB", dict(n_estimators=60, n_samples=20000)), ("120 MB", dict(n_estimators=380, n_samples=40000)))
TARGET = 1.15

def _bare_loader(path: Path):
    if path.suffix == ".pkl":
        def load():
            with open(path, "rb") as fh:
                return pickle.load(fh)
        return load
    if path.suffix == ".skops":
        import skops.io

        # a safe skops load asks which types the file holds first (our allow-list check does too)
        return lambda: skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
    return lambda: joblib.load(path)


def _peak_bytes(load) -> int:
    """Peak of the memory allocated (Python objects and NumPy arrays, via tracemalloc) during ``load()``."""
    tracemalloc.start()
    try:
        load()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def bench_format(tmp: Path, label: str, model, save_format: str) -> None:
    models = tmp / f"{save_format}-{label.replace(' ', '')}"
    service = ModelService(models_directory=models, allow_pickle=True, probe_rows=None)
    service.register_model(model, "rf")
    service.save_model("rf", save_format=save_format)
    row = service.registry.get("rf", 1)  # the stored row: with its chunk digests, which metadata leaves out
    path = models / row["file_path"]  # relative to the models folder in the stored row
    bare = _bare_loader(path)
    fresh = ModelService(models_directory=models, allow_pickle=True)

    def ours():
        fresh.current_model = None  # a real read, digest check and deserialization each time
        fresh.load_model("rf:1")

    repeats = 5 if row["file_bytes"] > 50e6 else 15
    mine, base = median_pair(ours, bare, repeats)
    peak_ours, peak_bare = _peak_bytes(ours), _peak_bytes(bare)
    fresh.registry.update("rf", 1, {"file_chunks": None})  # as a file saved before chunk digests were kept
    whole, _ = median_pair(ours, bare, repeats)
    peak_whole = _peak_bytes(ours)
    fresh.registry.update("rf", 1, {"file_blake3": None})  # ... and before BLAKE3 was kept
    with_sha, _ = median_pair(ours, bare, repeats)
    fresh.registry.set_file("rf", 1, {"file_blake3": row["file_blake3"], "file_chunks": row["file_chunks"]})
    ratio = mine / base
    print(f"{save_format:<7} {row['file_bytes'] / 1e6:6.1f} MB  verified {mine * 1e3:8.1f} ms  "
          f"bare {base * 1e3:8.1f} ms  ratio {ratio:5.3f} (target ≤ {TARGET}) "
          f"{'ok' if ratio <= TARGET else 'OVER'}  | whole-file BLAKE3 {whole / base:5.3f}, sha256 "
          f"{with_sha / base:5.3f}  | peak memory {peak_ours / 2**20:5.0f} MiB vs {peak_bare / 2**20:5.0f} MiB "
          f"({peak_ours / max(peak_bare, 1):4.2f}×; whole-file {peak_whole / max(peak_bare, 1):4.2f}×)", flush=True)
    service.close()
    fresh.close()


def main() -> None:
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    with tempfile.TemporaryDirectory() as tmp:
        for label, size in SIZES:
            X, y = make_classification(n_samples=size["n_samples"], n_features=20, random_state=0)
            model = RandomForestClassifier(n_estimators=size["n_estimators"], random_state=0, n_jobs=-1).fit(X, y)
            for save_format in ("joblib", "pickle", "skops"):
                if save_format == "skops" and label != SIZES[0][0]:
                    continue  # skops' own loader is ~10x slower than joblib's: the 8 MB case says enough
                bench_format(Path(tmp), label, model, save_format)


if __name__ == "__main__":
    main()
