"""A process SIGKILLed at any point of ``save_model`` leaves the registry consistent.

A forked child trains (or loads) a model heavy enough that saving takes tens
of milliseconds, tells the parent it is about to save, and is killed after a
random delay. After every kill the parent reopens the registry and checks
every row: complete and loadable with the right sha256, or clearly
incomplete (``pending`` without a file, or no file at all) and refused with a
clear error. Final model files are never torn. At the end, ``repair`` and
``gc`` bring the store back to a state ``verify`` finds clean.
"""

from __future__ import annotations

import hashlib
import os
import random
import select
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from jupyter_modelservice import ArtifactError, ModelService, NoModelError, maintenance
from jupyter_modelservice.artifacts import formats

from .ballast import Ballast
from .figures import FIGURES

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "win32", reason="needs fork()")]

KILLS = int(os.environ.get("MODELSERVICE_CRASH_KILLS", "48"))
#: Chooses the jobs and the kill points (as fractions of a save); failures report it, and
#: MODELSERVICE_CRASH_SEED=<n> replays another sequence.
SEED = int(os.environ.get("MODELSERVICE_CRASH_SEED", "20261129"))
MEGABYTES = 24
EXTENSION = {"joblib": "joblib", "pickle": "pkl"}
_FORMAT_OF = {ext: fmt for fmt, ext in formats.EXTENSIONS.items()}


def _child(models: Path, job: tuple, X, y, pipe_w: int) -> None:
    """Runs in the forked child; never returns."""
    try:
        service = ModelService(models_directory=models)
        op, fmt, version, seed = job
        if op == "new":
            service.train_model(Ballast, X, y, model_id="crash", validation_split=0,
                                megabytes=MEGABYTES, seed=seed)
            os.write(pipe_w, b"S")
            service.save_model(save_format=fmt)
        else:  # save an existing version again, in the other format
            service.load_model(f"crash:{version}")
            os.write(pipe_w, b"S")
            service.save_model(f"crash:{version}", save_format=fmt)
        os.write(pipe_w, b"D")
    except BaseException as err:  # noqa: BLE001 - reported to the parent
        os.write(pipe_w, b"E" + repr(err).encode()[:500])
    finally:
        os._exit(0)


def _run(models: Path, job: tuple, X, y, delay: float | None) -> tuple[bool, bool, float]:
    """Fork a child for ``job``; kill it ``delay`` s after it starts saving (None: let it finish).

    Returns (killed by SIGKILL, finished its save, seconds from start of save to exit or kill).
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_fd)
        _child(models, job, X, y, write_fd)
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 120)
        first = os.read(read_fd, 1) if ready else b""
        if first != b"S":
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"child did not start saving: {first + os.read(read_fd, 600)!r}")
        started = time.perf_counter()
        if delay is not None:
            time.sleep(delay)
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        elapsed = time.perf_counter() - started
        rest = b""
        while chunk := os.read(read_fd, 4096):
            rest += chunk
    finally:
        os.close(read_fd)
    if rest.startswith(b"E"):
        raise AssertionError(f"child failed: {rest[1:].decode(errors='replace')}")
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    return killed, b"D" in rest, elapsed


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_row(service: ModelService, row: dict, load: bool) -> str:
    """Classify one row after a kill; raise AssertionError for an inconsistent state."""
    ref = f"{row['model_id']}:{row['version']}"
    state, relpath = row["artifact_state"], row["relative_path"]
    path = service.store.root / relpath if relpath else None
    if state is None:
        assert relpath is None and row["status"] == "trained", row
        with pytest.raises(NoModelError, match="never saved"):
            service.get_model(ref)
        return "no file"
    assert state in ("pending", "ready"), row
    if state == "pending" and not path.exists():
        with pytest.raises(ArtifactError, match="never completed"):
            service.get_model(ref)
        return "pending, no file"
    assert path.exists(), f"{ref} is ready but {relpath} is missing"
    assert _sha(path) == row["file_sha256"], f"{ref}: torn or foreign file behind a {state} row"
    assert path.stat().st_size == row["file_bytes"]
    if load:
        model = service.get_model(ref)
        assert isinstance(model, Ballast) and model.ballast_.nbytes == MEGABYTES << 20
    return "pending, file complete" if state == "pending" else "ready"


def _final_files_are_whole(models: Path, rows: dict) -> None:
    """No model file under a final name is torn, referenced or not."""
    for path in (models / "crash").glob("v*.*"):
        if path.suffix == ".json":
            continue
        version = int(path.stem[1:])
        row = rows.get(version)
        if row is not None and row["relative_path"] == f"crash/{path.name}":
            continue  # checked against its hash by _check_row
        try:  # a leftover of a re-save in another format: still whole
            formats.loads(path.read_bytes(), _FORMAT_OF[path.suffix[1:]])
        except ArtifactError as err:
            raise AssertionError(f"torn file under a final name: {path.name}: {err}") from err


def test_sigkill_at_random_points_of_save_never_leaves_an_inconsistent_registry(tmp_path):
    seed = SEED
    rng = random.Random(seed)
    models = tmp_path / "models"
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    ModelService(models_directory=models).close()

    # calibrate: one complete save, timed from "about to save" to the child's exit
    _, finished, save_seconds = _run(models, ("new", "joblib", None, 0), X, y, None)
    assert finished, f"the calibration save did not finish (seed {seed})"
    outcomes: dict[str, int] = {}
    kills = runs = 0
    checked: dict[tuple, str] = {}
    while kills < KILLS:
        runs += 1
        assert runs <= 3 * KILLS, f"only {kills} kills in {runs} runs (seed {seed})"
        i = runs
        with ModelService(models_directory=models) as service:
            ready = [r["version"] for r in service.list_models(model_id="crash") if r["artifact_state"] == "ready"]
            formats_of = {r["version"]: r["file_format"] for r in service.list_models(model_id="crash")}
        latest_before = max(formats_of, default=0)
        if ready and rng.random() < 0.3:
            version = rng.choice(ready)
            job = ("resave", "pickle" if formats_of[version] == "joblib" else "joblib", version, i)
        else:
            job = ("new", rng.choice(["joblib", "pickle"]), None, i + 1)
        delay = rng.uniform(0.0, save_seconds)
        killed, finished, _ = _run(models, job, X, y, delay)
        kills += int(killed)
        with ModelService(models_directory=models) as service:
            rows = {r["version"]: r for r in service.list_models(model_id="crash")}
            try:
                for version, row in rows.items():
                    key = (version, row["artifact_state"], row["relative_path"], row["file_sha256"])
                    touched = version == job[2] or (job[0] == "new" and version > latest_before)
                    if key in checked and not touched:
                        continue
                    checked[key] = _check_row(service, row, load=touched)
                    if touched:
                        outcome = f"{job[0]}: {checked[key]}" + ("" if killed and not finished else " (finished)")
                        outcomes[outcome] = outcomes.get(outcome, 0) + 1
                _final_files_are_whole(models, rows)
            except Exception as err:  # noqa: BLE001 - any surprise here is an inconsistent state
                FIGURES["inconsistent"] += 1
                raise AssertionError(f"run {i} (seed {seed}, job {job}, delay {delay:.3f}s): {err}") from err
            finally:
                FIGURES["kills"] += int(killed)
                FIGURES.setdefault("inconsistent", 0)
    interrupted = sum(n for k, n in outcomes.items() if "pending" in k or "no file" in k)
    assert interrupted > 0, f"no kill landed inside a save: {outcomes} (seed {seed})"

    # the aftermath: repair finishes or undoes every interrupted save, gc clears the temp files
    with ModelService(models_directory=models) as service:
        before = maintenance.verify(service, grace=0)
        assert set(before.kinds()) <= {"incomplete_save", "stale_temp", "orphan_file", "missing_sidecar"}, \
            (seed, before.to_dict())
        repaired = maintenance.repair(service, grace=0)  # every saver is dead: nothing is in progress
        collected = maintenance.collect_garbage(service, grace=0)
        after = maintenance.verify(service, grace=0)
        if not after.ok:  # everything needed to replay the case in the message
            refs = {p.ref for p in after.problems if p.ref}
            rows = [r for r in service.registry.list(order_by="model_id") if f"{r['model_id']}:{r['version']}" in refs]
            events = {f"{r['model_id']}:{r['version']}": service.registry.events(r["model_id"], r["version"])
                      for r in rows}
            files = sorted(p.name for p in (models / "crash").iterdir())
            raise AssertionError(f"seed {seed}: after repair and gc {after.to_dict()}\nbefore {before.to_dict()}\n"
                                 f"repair {repaired.to_dict()}\ngc {collected.to_dict()}\nrows {rows}\n"
                                 f"events {events}\nfiles {files}")
        for row in service.list_models(model_id="crash"):
            if row["artifact_state"] == "ready":
                assert isinstance(service.get_model(f"crash:{row['version']}"), Ballast)
    print(f"\ncrash test seed {seed}: save ~{save_seconds * 1000:.0f} ms, {kills} kills, outcomes {outcomes}, "
          f"verify before repair {before.kinds()}")
