"""The magics in a real IPython kernel, driven as a notebook front end drives it (jupyter_client).

What only a kernel shows: the cell's own execution count and the cell id the
front end sends with each execute request (provenance), and what a kernel
interrupt (SIGINT, Kernel → Interrupt) leaves behind in the middle of
``%train ... --folds 5``.
"""

from __future__ import annotations

import json
import queue
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

TIMEOUT = 240  # seconds: kernel start and scikit-learn imports on a busy machine

SETUP = """
import os, time
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_breast_cancer
from sklearn.naive_bayes import GaussianNB

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
FITS = [0]

class BlocksOnThirdFit(ClassifierMixin, BaseEstimator):
    '''Fit 1 trains, fits 2.. are the folds: the third fit (fold 2) waits to be interrupted.'''

    def __init__(self, marker=""):
        self.marker = marker

    def fit(self, X, y):
        FITS[0] += 1
        if FITS[0] == 3:
            open(self.marker, "w").close()
            while True:
                time.sleep(0.05)
        self.model_ = GaussianNB().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)

%load_ext jupyter_modelservice
%ms_config --dir models -q
"""


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """A python3 kernel working in ``tmp_path`` and a client; both stopped afterwards."""
    from jupyter_client.manager import start_new_kernel

    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(tmp_path), startup_timeout=TIMEOUT)
    try:
        yield manager, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def execute(client, code: str, cell_id: str | None = None, *, started=None) -> tuple[dict, list[dict]]:
    """Run ``code`` as a notebook cell (with its cell id); return the reply and the IOPub messages.

    ``started(messages)`` is called while waiting, to act on the kernel mid-run (interrupt it).
    """
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
               "allow_stdin": False, "stop_on_error": True}
    msg = client.session.msg("execute_request", content, metadata={"cellId": cell_id} if cell_id else {})
    client.shell_channel.send(msg)
    messages: list[dict] = []
    deadline = time.monotonic() + TIMEOUT
    while True:
        if started is not None:
            started(messages)
        try:
            message = client.get_iopub_msg(timeout=0.2)
        except queue.Empty:
            assert time.monotonic() < deadline, f"no idle after {TIMEOUT} s: {messages}"
            continue
        if message["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
            continue
        messages.append(message)
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            break
    reply = client.get_shell_msg(timeout=TIMEOUT)
    while reply["parent_header"].get("msg_id") != msg["header"]["msg_id"]:  # an earlier request's reply
        reply = client.get_shell_msg(timeout=TIMEOUT)
    return reply["content"], messages


def _registry(tmp_path: Path):
    from jupyter_modelservice import ModelService

    return ModelService(models_directory=tmp_path / "models")


def test_provenance_records_the_cells_own_count_and_cell_id(kernel, tmp_path):
    _, client = kernel
    reply, _ = execute(client, SETUP, "setup-cell")
    assert reply["status"] == "ok", reply
    counts = {}
    for cell_id, version in (("cell-train-1", 1), ("cell-train-2", 2)):
        reply, _ = execute(client, "%train GaussianNB X y --id nb -q", cell_id)
        assert reply["status"] == "ok", reply
        counts[version] = (reply["execution_count"], cell_id)
    with _registry(tmp_path) as service:
        for version, (count, cell_id) in counts.items():
            source = service.get_model_metadata("nb", version)["source"]
            assert source["kind"] == "ipython"
            assert source["execution_count"] == count  # the cell's In [n], not n + 1
            assert source["cell_id"] == cell_id


def test_an_interrupt_during_cross_validation_says_one_line_and_leaves_nothing(kernel, tmp_path):
    manager, client = kernel
    reply, _ = execute(client, SETUP, "setup")
    assert reply["status"] == "ok", reply
    marker = tmp_path / "fold-2-started"
    interrupted = []

    def interrupt_when_fold_2_runs(messages):
        if not interrupted and marker.exists():
            manager.interrupt_kernel()
            interrupted.append(True)

    reply, messages = execute(client, f"%train BlocksOnThirdFit X y --id slow --folds 5 marker={str(marker)!r}",
                              "train-cell", started=interrupt_when_fold_2_runs)
    assert interrupted, "the third fit never started"
    assert reply["status"] == "error" and reply["ename"] == "MagicInterrupted"
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert len(errors) == 1
    assert errors[0]["traceback"] == [
        "Interrupted during cross-validation (1 of 5 folds done); nothing was saved."]
    streams = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
    assert "Traceback" not in streams
    # The progress bar ends as nothing: the one line above says what happened.
    updates = [m["content"]["data"] for m in messages if m["msg_type"] == "update_display_data"]
    assert updates and updates[-1] == {"text/plain": ""}
    with _registry(tmp_path) as service:
        assert service.list_models() == []
        assert [e["event"] for e in service.model_history("slow")][-1] == "deleted"
    assert not (tmp_path / "models" / "slow").exists() or not any((tmp_path / "models" / "slow").iterdir())

    # The kernel goes on: the same line without the interrupt trains, cross-validates and saves.
    reply, _ = execute(client, "FITS[0] = 10\n%train BlocksOnThirdFit X y --id slow --folds 3 -q", "again")
    assert reply["status"] == "ok", reply
    with _registry(tmp_path) as service:
        row = service.get_model_metadata("slow")
        assert row["status"] == "saved" and row["cv_scores"]["cv_folds"] == 3
        assert json.loads(json.dumps(row["source"]))["cell_id"] == "again"


def test_a_result_reaches_the_front_end_once(kernel):
    """The cell's value as one execute_result (Out[n]); an assigned result as one display_data."""
    _, client = kernel
    reply, _ = execute(client, SETUP, "setup")
    assert reply["status"] == "ok", reply

    def shown(code):
        reply, messages = execute(client, code)
        assert reply["status"] == "ok", reply
        return [(m["msg_type"], "text/html" in m["content"]["data"]) for m in messages
                if m["msg_type"] in ("execute_result", "display_data")]

    assert shown("%train GaussianNB X y --id nb") == [("execute_result", True)]
    assert shown("r = %train GaussianNB X y --id nb") == [("display_data", True)]
    assert shown("%train GaussianNB X y --id nb -q") == []
    # mid-cell by the magic; the browser (the cell's value) shows itself: the widget, then its saved view
    assert shown("%train GaussianNB X y --id nb\n%models --id nb") == [
        ("display_data", True), ("display_data", False), ("display_data", True)]
