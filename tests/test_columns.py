"""One view of a registry row: every table of versions takes its columns from `jupyter_modelservice.columns`.

Each view is read back into cells (split on the two spaces between columns) and compared with the
spec: the same titles in the same order, and each cell the column's own text for that row.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from jupyter_modelservice import ModelService
from jupyter_modelservice.cli import main
from jupyter_modelservice.columns import BROWSER_LIST, CLI_LIST, COLUMNS, REGISTRY_TABLE, cells, fit, pick
from jupyter_modelservice.display import RegistryTable
from jupyter_modelservice.formatting import MISSING


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """lr:1 saved (joblib), lr:2 saved (pickle), dummy:1 unsaved and without a validation score."""
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    folder = tmp_path_factory.mktemp("columns") / "models"
    with ModelService(models_directory=folder) as service:
        service.train_model(LogisticRegression, X, y, model_id="lr", C=1.0)
        service.save_model("lr")
        service.train_model(LogisticRegression, X, y, model_id="lr", C=0.5)
        service.save_model("lr", save_format="pickle")
        service.train_model(DummyClassifier, X, y, model_id="dummy", validation_split=0.0)
    return folder


@pytest.fixture(scope="module")
def rows(folder):
    with ModelService(models_directory=folder) as service:
        return service.list_models()


def read_table(lines: list[str]) -> tuple[list[str], list[list[str]]]:
    """Titles and cells of an aligned text table (columns two or more spaces apart)."""
    split = [re.split(r" {2,}", line.replace("\u00a0", " ").strip()) for line in lines]
    return split[0], split[1:]


def expected(keys, rows, *, width: bool = False) -> list[list[str]]:
    columns = pick(keys)
    found = cells(columns, rows)
    return [[fit(text, c.width) for text, c in zip(line, columns)] for line in found] if width else found


def test_the_rows_cover_a_missing_score_and_two_formats(rows):
    assert {r["validation_score"] is None for r in rows} == {True, False}
    assert {r["file_format"] for r in rows} == {"joblib", "pickle", None}


def test_the_notebook_table_shows_the_spec_columns(rows):
    titles, body = read_table(RegistryTable(rows).to_text().splitlines()[1:])
    assert titles == [COLUMNS[k].title for k in REGISTRY_TABLE]
    dashes, *body = body
    assert body == expected(REGISTRY_TABLE, rows)
    assert [line[titles.index("validation")] for line in body].count(MISSING) == 1


def test_the_browser_list_shows_the_spec_columns(rows):
    from jupyter_modelservice.notebook.registry_rows import table_lines

    header, lines = table_lines(rows)
    titles, body = read_table([header, *lines])
    assert titles == [COLUMNS[k].title for k in BROWSER_LIST] + ["differs"]
    assert [line[:-1] if len(line) > len(BROWSER_LIST) else line for line in body] == expected(
        BROWSER_LIST, rows, width=True)


def test_modelservice_list_shows_the_spec_columns(capsys, folder, rows):
    assert main(["--dir", str(folder), "list"]) == 0
    titles, body = read_table(capsys.readouterr().out.splitlines())
    assert titles == [COLUMNS[k].title.upper() for k in CLI_LIST]
    assert body == expected(CLI_LIST, rows)
    files = {line[0]: line[titles.index("FILE")] for line in body}
    assert files["dummy:1"] == MISSING and files["lr:2"].startswith("pickle ") and files["lr:1"].endswith(" bytes")


def test_the_comparison_panel_names_versions_with_the_spec_cells(rows):
    from jupyter_modelservice.notebook.comparison_panel import _option_label

    for row in rows:
        parts = _option_label(row).split(" · ")
        assert parts[0] == COLUMNS["ref"].text(row) and parts[1] == row["model_class"]
        assert parts[-1] == COLUMNS["training_date"].text(row)
        score = COLUMNS["validation_score"].text(row)
        assert parts[3] == (f"validation {score}" if row["validation_score"] is not None else "no validation score")


def test_dates_read_to_the_minute_and_scores_to_four_decimals():
    row = {"model_id": "m", "version": 3, "training_date": "2026-05-01T12:34:56.789+00:00",
           "validation_score": 0.912345, "train_score": float("nan"), "file_bytes": 2048,
           "file_sha256": "ab" * 32, "fit_seconds": 0.25}
    text = {key: COLUMNS[key].text(row) for key in COLUMNS if key not in ("file",)}
    assert text["ref"] == "m:3" and text["training_date"] == "2026-05-01 12:34"
    assert text["validation_score"] == "0.9123" and text["train_score"] == MISSING
    assert text["file_bytes"] == "2,048 bytes" and text["file_sha256"] == "ab" * 8 + "…"
    assert text["fit_seconds"] == "0.250 s" and text["feature_count"] == MISSING


@pytest.mark.parametrize(("state", "cell"), [("ready", "joblib 2.0 KiB"), ("pending", "save incomplete"),
                                             ("removed", "removed by gc"), (None, MISSING)])
def test_the_file_cell_says_what_became_of_the_file(state, cell):
    row = {"artifact_state": state, "file_format": "joblib", "file_bytes": 2048}
    assert COLUMNS["file"].text(row) == cell


def test_numbers_align_right_and_text_left():
    assert {key for key, c in COLUMNS.items() if c.align == "r"} == {
        "version", "train_score", "validation_score", "training_samples", "validation_samples", "feature_count",
        "fit_seconds", "file_bytes"}
