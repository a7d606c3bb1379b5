"""Feature names and class labels are drawn as written: ``$`` never starts matplotlib mathtext."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jupyter_modelservice.display import ComparisonResult, CVResult, EvaluationResult, ImportanceResult
from jupyter_modelservice.display.figures import plain_text

from .checks import png_bytes

#: Broken mathtext (an unknown command, unbalanced braces) and valid mathtext that must stay literal.
NAMES = [r"$\foo$", r"price $\frac{a$", "cost ($)", r"$x^2$", "a$b$c", r"\$"]


def test_plain_text_is_literal_under_matplotlib():
    from matplotlib.text import Text

    for name in NAMES:
        assert Text(text=plain_text(name))._preprocess_math(plain_text(name)) == (name, False)


def test_importance_chart_with_dollar_feature_names():
    result = ImportanceResult({name: 0.1 * (i + 1) for i, name in enumerate(NAMES)}, ref="rf:1")
    assert png_bytes(result._repr_mimebundle_())
    assert r"$\foo$" in result.to_html()  # the table keeps the names as they are


def test_confusion_matrix_and_roc_with_dollar_class_labels(classification_eval):
    labels = [r"$\foo$", r"$\bar{$"]
    data = {**classification_eval, "labels": labels}
    y_true = np.array([labels[i % 2] for i in range(40)])
    y_score = np.linspace(0, 1, 40)
    result = EvaluationResult(data, y_true=y_true, y_score=y_score, pos_label=labels[1])
    assert png_bytes(result._repr_mimebundle_())
    matrix, roc = result.ax_
    assert [t.get_text() for t in matrix.get_xticklabels()] == [plain_text(label) for label in labels]
    assert roc.get_xlabel() == f"False Positive Rate (Positive label: {plain_text(labels[1])})"


@pytest.mark.parametrize("bounded", [True, False])
def test_comparison_chart_with_dollar_model_labels(bounded):
    scale = 1 if bounded else 1000
    frame = pd.DataFrame({"model_id": [r"$\foo$", "lr"], "version": [1, 2],
                          "accuracy": [0.9 * scale, 0.8 * scale]})
    result = ComparisonResult(frame)
    assert png_bytes(result._repr_mimebundle_())


def test_cv_chart_with_a_dollar_scoring_name(cv_data):
    result = CVResult({**cv_data, "scoring": r"$\foo$", "model_class": r"$\foo$"})
    assert png_bytes(result._repr_mimebundle_())
