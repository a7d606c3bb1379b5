"""A magic's result is shown exactly once: by IPython's displayhook when it is the cell's value,
by the magic itself anywhere else (assigned, mid-cell, called from code); never with -q."""

from __future__ import annotations

import pytest
from IPython.utils.capture import capture_output

from jupyter_modelservice.display import RegistryTable, TrainResult

TRAIN = "%train GaussianNB X_train y_train"


def run_cell(shell, code, store_history=False):
    """Run ``code`` as a cell: (its ExecutionResult, rich outputs the magics displayed, the
    displayhook's echoes). The test shell's displayhook prints ``Out[n]: <text>`` on stdout."""
    with capture_output() as cap:
        res = shell.run_cell(code, store_history=store_history)
    assert res.success, res.error_in_exec
    return res, cap.outputs, cap.stdout.count("Out[")


def test_the_cells_value_is_shown_by_ipython(classification_data):
    res, displayed, echoed = run_cell(classification_data, f"{TRAIN} --id nb")
    assert (displayed, echoed) == ([], 1)
    assert isinstance(res.result, TrainResult)
    assert classification_data.user_ns["_"] is res.result  # Out[n] and _ as for any expression


def test_an_assigned_result_is_shown_once_by_the_magic(classification_data):
    res, displayed, echoed = run_cell(classification_data, f"result = {TRAIN} --id nb")
    assert len(displayed) == 1 and echoed == 0
    assert "text/html" in displayed[0].data
    assert isinstance(classification_data.user_ns["result"], TrainResult)
    assert res.result is None


def test_every_magic_of_a_cell_is_shown_once(classification_data):
    _, displayed, echoed = run_cell(classification_data, f"{TRAIN} --id a\nx = 1\n{TRAIN} --id b\n%models")
    assert [o.data["text/plain"].split(":")[0] for o in displayed] == ["Trained a", "Trained b"]
    assert echoed == 1  # %models, the cell's value
    _, displayed, echoed = run_cell(classification_data, f"{TRAIN} --id c\n{TRAIN} --id c")
    assert len(displayed) == 1 and echoed == 1  # the same line twice: each result once


def test_quiet_shows_nothing_and_output_stores(classification_data):
    res, displayed, echoed = run_cell(classification_data, f"{TRAIN} --id nb -q -o kept")
    assert (displayed, echoed, res.result) == ([], 0, None)
    assert isinstance(classification_data.user_ns["kept"], TrainResult)
    _, displayed, echoed = run_cell(classification_data, f"kept_too = {TRAIN} --id nb -q")
    assert (displayed, echoed) == ([], 0)
    assert isinstance(classification_data.user_ns["kept_too"], TrainResult)
    _, displayed, echoed = run_cell(classification_data, "%models -o table")
    assert (displayed, echoed) == ([], 1)  # shown, and stored
    assert isinstance(classification_data.user_ns["table"], RegistryTable)


def test_a_cell_magics_value_and_code_calling_a_magic(classification_data):
    cell = "%%train X_train y_train --id nb\nfrom sklearn.naive_bayes import GaussianNB\nGaussianNB()"
    _, displayed, echoed = run_cell(classification_data, cell)
    assert (displayed, echoed) == ([], 1)
    code = "def train():\n    get_ipython().run_line_magic('train', 'GaussianNB X_train y_train --id f')\ntrain()"
    _, displayed, echoed = run_cell(classification_data, code)
    assert len(displayed) == 1 and echoed == 0  # the function returns None: the magic showed it


@pytest.mark.parametrize(("mode", "shown_by_magic", "echoes"),
                         [("none", 2, 0), ("all", 0, 2), ("last_expr_or_assign", 1, 1)])
def test_ipythons_interactivity_setting_is_followed(classification_data, monkeypatch, mode, shown_by_magic,
                                                    echoes):
    monkeypatch.setattr(classification_data, "ast_node_interactivity", mode)
    _, displayed, echoed = run_cell(classification_data, f"{TRAIN} --id a\nr = {TRAIN} --id b"
                                    if mode == "last_expr_or_assign" else f"{TRAIN} --id a\n{TRAIN} --id b")
    assert (len(displayed), echoed) == (shown_by_magic, echoes)


def test_a_trailing_semicolon_silences_the_value_but_not_the_magic(classification_data):
    _, displayed, echoed = run_cell(classification_data, f"x = 1\n{TRAIN} --id nb\n1;", store_history=True)
    assert len(displayed) == 1 and echoed == 0


@pytest.mark.parametrize("cell", [f"%%time\n{TRAIN} --id nb\nx = 1", f"%%time\nx = 1\n{TRAIN} --id nb"])
def test_a_magic_in_a_cell_magics_body_shows_its_result(classification_data, cell):
    """The body of %%time is not the cell IPython displays values of: the magic shows its own
    result (%%time may also return the body's last value as the cell's value)."""
    res, displayed, echoed = run_cell(classification_data, cell)
    assert len(displayed) == 1 and displayed[0].data["text/plain"].startswith("Trained nb")
