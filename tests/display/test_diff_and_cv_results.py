"""DiffResult and CVComparisonResult: data in, text / HTML / PNG out."""

from __future__ import annotations

import pandas as pd

from jupyter_modelservice.display import CVComparisonResult, DiffResult


def _diff(**extra):
    return {"a": "p:1", "b": "p:2", "model": [], "params": [("logisticregression__C", 1.0, 0.1)], "data": [],
            "environment": [], "metrics": [], "notes": [], **extra}


def test_a_diff_shows_only_what_differs():
    result = DiffResult(_diff())
    text = result.to_text()
    assert "Parameters" in text and "logisticregression__C" in text
    for absent in ("Class", "Training data", "Library versions", "Stored scores", "Predictions", "Test metrics"):
        assert absent not in text
    assert result.summary() == "p:1 vs p:2: 1 parameter differs"
    bundle = result._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"} and bundle["text/plain"] == text


def test_nothing_differs_and_predictions_agree():
    result = DiffResult({**_diff(params=[]), "n_rows": 50, "disagreements": 0, "disagreement_index": []})
    text = result.to_text()
    assert "No differences in class, parameters" in text and "Predictions agree on all 50 rows." in text


def test_disagreements_are_listed_then_counted_and_values_escaped():
    index = [f"row{i}" for i in range(25)]
    data = _diff(params=[("note", "<b>x</b>", "y" * 80)], n_rows=100, disagreements=25, disagreement_index=index,
                 notes=["a <note>"],
                 metric_differences=[{"metric": "accuracy", "a": 0.9, "b": 0.8, "difference": -0.1, "ci_low": -0.15,
                                      "ci_high": -0.05, "p_value": 0.0004, "test": "exact McNemar"}],
                 n_samples=100, alpha=0.05)
    result = DiffResult(data)
    text = result.to_text()
    assert "Predictions disagree on 25 of 100 rows (25.0 %): row0, row1" in text and "… (5 more)" in text
    assert "row19" in text and "row20" not in text
    assert "-0.1500 to -0.0500" in text and "< 0.001" in text and "95% CI of b − a" in text
    assert "y" * 47 + "…" in text  # a long value is cut
    page = result.to_html()
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page and "a &lt;note&gt;" in page


def _cv_frame(p_values, tied):
    frame = pd.DataFrame({
        "model_id": ["lr", "tree", "dummy"], "version": [1, 1, 1],
        "model_class": ["LogisticRegression", "DecisionTreeClassifier", "DummyClassifier"],
        "scoring": ["accuracy"] * 3, "mean_score": [0.9, 0.88, 0.5], "std_score": [0.02, 0.03, 0.01],
        "n_folds": [5] * 3, "fold_scores": [[0.9] * 5, [0.88] * 5, [0.5] * 5],
        "p_value": p_values, "tied_with_best": tied})
    frame.attrs.update(metric="accuracy", test="corrected resampled t-test", alpha=0.05, n_folds=5, n_train=240,
                       n_test=60, n_samples=300, data_fingerprint="sha256:ab",
                       splitter={"class": "StratifiedKFold", "n_splits": 5, "shuffle": True, "random_state": 0})
    return frame


def test_cv_comparison_names_a_winner_only_when_significant():
    tie = CVComparisonResult(_cv_frame([float("nan"), 0.41, 0.0001], [True, True, False]))
    assert tie.winner is None and tie.tied == ["lr:1", "tree:1"]
    assert tie.verdict().startswith("No significant winner by mean accuracy: lr:1 is statistically tied with "
                                    "tree:1 (p = 0.41)")
    assert "k = 5 folds, n_train = 240, n_test = 60" in tie.verdict()
    win = CVComparisonResult(_cv_frame([float("nan"), 0.01, 0.0001], [True, False, False]))
    assert win.winner == "lr:1" and win.verdict().startswith("Best: lr:1 by mean accuracy, significantly better")
    text = win.to_text()
    assert "StratifiedKFold, 5 folds (shuffle=True, random_state=0)" in text and "mean accuracy" in text
    bundle = win._repr_mimebundle_()
    assert {"text/plain", "text/html", "image/png"} <= set(bundle)
    assert win.figure_.axes[0].get_ylim() == (0.0, 1.0)  # from 0: no exaggerated differences
