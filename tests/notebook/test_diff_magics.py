"""%diff and %compare --cv through a real IPython shell."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from jupyter_modelservice.display import CVComparisonResult, DiffResult, ReproductionResult


@pytest.fixture
def pipelines(classification_data, run):
    """Versions pipe:1 (C=1) and pipe:2 (C=0.1) of one scaled logistic regression."""
    ns = classification_data.user_ns
    ns["pipe_a"] = make_pipeline(StandardScaler(), LogisticRegression(C=1.0))
    ns["pipe_b"] = make_pipeline(StandardScaler(), LogisticRegression(C=0.1))
    run(classification_data, "train", "pipe_a X_train y_train --id pipe -q")
    run(classification_data, "train", "pipe_b X_train y_train --id pipe -q")
    return classification_data


def test_diff_of_two_pipelines_differing_in_one_parameter_lists_exactly_that_one(pipelines, run):
    result, cap = run(pipelines, "diff", "pipe:1 pipe:2 -o d")
    assert isinstance(result, DiffResult) and pipelines.user_ns["d"] is result
    assert result.params == [("logisticregression__C", 1.0, 0.1)]
    bundle = cap.outputs[-1].data
    text, page = bundle["text/plain"], bundle["text/html"]
    assert text.count("logisticregression__") == 1 and "Parameters" in text
    assert "logisticregression__C" in page and "Class" not in text and "Library versions" not in text
    assert "image/png" not in bundle


def test_diff_with_test_data_shows_disagreements_and_metric_differences(pipelines, run):
    result, cap = run(pipelines, "diff", "pipe:1 pipe:2 X_test y_test")
    data = result.data
    assert data["n_rows"] == len(pipelines.user_ns["y_test"])
    assert {d["metric"] for d in data["metric_differences"]} >= {"accuracy", "roc_auc"}
    text = cap.outputs[-1].data["text/plain"]
    assert "Test metrics" in text and "95% CI of b − a" in text
    assert ("Predictions agree on all" in text) == (data["disagreements"] == 0)
    again, _ = run(pipelines, "diff", "pipe:1 pipe:2 X_test -q")  # X only: no metrics
    assert again.data["disagreements"] == data["disagreements"] and "metric_differences" not in again.data


def test_diff_usage_errors(pipelines, run):
    with pytest.raises(UsageError, match="X \\[y\\]"):
        run(pipelines, "diff", "pipe:1 pipe:2 X_test y_test X_train")
    with pytest.raises(UsageError, match="nope"):
        run(pipelines, "diff", "pipe:1 nope")


def test_compare_cv_uses_the_recorded_folds(classification_data, run):
    for line in ("LogisticRegression X_train y_train --id lr --cv 5 -q solver='liblinear'",
                 "GaussianNB X_train y_train --id nb --cv 5 -q"):
        run(classification_data, "train", line)
    result, cap = run(classification_data, "compare", "--cv lr nb")
    assert isinstance(result, CVComparisonResult)
    assert result.frame().attrs["test"] == "corrected resampled t-test"
    assert sorted(result.frame()["model_id"]) == ["lr", "nb"]
    bundle = cap.outputs[-1].data
    assert "StratifiedKFold, 5 folds" in bundle["text/plain"] and "image/png" in bundle
    assert ("No significant winner" in result.verdict()) == (result.winner is None)
    run(classification_data, "train", "GaussianNB X_train y_train --id nb3 --cv 3 -q")
    with pytest.raises(UsageError, match="different folds"):
        run(classification_data, "compare", "--cv lr nb3")


def test_unloading_removes_diff(shell):
    shell.run_line_magic("unload_ext", "jupyter_modelservice")
    assert "diff" not in shell.magics_manager.magics["line"]
    shell.run_line_magic("load_ext", "jupyter_modelservice")
    assert "diff" in shell.magics_manager.magics["line"]


def test_reproduce_refits_a_version_and_shows_the_verdict(pipelines, run):
    result, cap = run(pipelines, "reproduce", "pipe:2 X_train y_train -o r")
    assert isinstance(result, ReproductionResult) and pipelines.user_ns["r"] is result
    assert result.data["ref"] == "pipe:2" and result.data["predictions_match"] is True
    text = cap.outputs[-1].data["text/plain"]
    rows = dict(line.rsplit(None, 1) for line in text.splitlines()[1:])
    assert text.startswith("pipe:2 reproduces") and rows["rows compared"] == str(len(pipelines.user_ns["y_train"]))


def test_reproduce_on_other_data_names_the_difference(pipelines, run):
    result, cap = run(pipelines, "reproduce", "pipe X_test y_test")
    assert result.data["data_matches"] is False and result.data["outcome"] is None
    text = cap.outputs[-1].data["text/plain"]
    assert "not refitted" in text and "rows where the version was trained on" in text
    assert "Reproduction of <code>pipe:2</code>" in cap.outputs[-1].data["text/html"]


def test_reproduce_usage_errors(pipelines):
    with pytest.raises(UsageError):
        pipelines.run_line_magic("reproduce", "pipe X_train")
