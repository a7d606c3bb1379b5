from __future__ import annotations

import numpy as np
import pytest

from jupyter_modelservice.display.tables import (
    css,
    format_timestamp,
    format_value,
    html_kv_table,
    html_table,
    text_kv_table,
    text_table,
)
from jupyter_modelservice.metric_names import higher_is_better

from .checks import without_styles


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.956140350877193, "0.9561"),
        (1.0, "1.0000"),
        (54.7, "54.70"),
        (2900.17337, "2,900.2"),
        (-0.5, "-0.5000"),
        (None, "—"),
        (float("nan"), "—"),
        (3, "3"),
        ("gini", "gini"),
        (True, "True"),
    ],
)
def test_format_value(value, text):
    assert format_value(value) == text


def test_format_value_numpy_float():
    assert format_value(np.float32(0.5)) == "0.5000"


def test_format_timestamp():
    assert format_timestamp("2024-05-01T12:34:56.789+00:00") == "2024-05-01 12:34:56"
    assert format_timestamp("2024-05-01T12:34:56.789+00:00", seconds=False) == "2024-05-01 12:34"
    assert format_timestamp("yesterday") == "yesterday"
    assert format_timestamp(None) is None


def test_text_table_aligns_and_marks():
    text = text_table(["model", "accuracy"], [["rf", 0.95], ["logistic", 0.9]], marks=[(0, 1)])
    lines = text.splitlines()
    assert lines[0].split() == ["model", "accuracy"]
    assert lines[2].startswith("rf ") and lines[2].endswith("0.9500*")
    assert lines[3].endswith("0.9000")
    assert len({len(line) for line in lines[1:]}) == 1  # right-aligned numbers line up


def test_text_kv_table():
    assert text_kv_table({"a": 1, "long key": 0.5}).splitlines() == ["a         1", "long key  0.5000"]
    assert text_kv_table({}) == ""


def test_html_table_escapes_every_value_and_header():
    html = html_table(["<b>h</b>", "score"], [["<script>alert(1)</script>", 0.5]])
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;h&lt;/b&gt;" in html
    assert "<td>0.5000</td>" in without_styles(html)


def test_html_table_highlights_best_cells_and_keeps_raw_columns():
    html = html_table(["m", "acc", "bar"], [["a", 0.9, "<span></span>"], ["b", 0.8, "<i></i>"]],
                      best=[(0, 1)], raw_columns=[2])
    assert '<td class="jms-best">0.9000</td>' in without_styles(html)
    assert "<td>0.8000</td>" in without_styles(html)
    assert "<span></span>" in html and "<i></i>" in html


def test_html_kv_table_escapes():
    html = html_kv_table({"<k>": "<v>"})
    assert "&lt;k&gt;" in html and "&lt;v&gt;" in html and "<k>" not in html


def test_css_is_a_package_file_with_scoped_rules():
    text = css()
    rules = [line for line in text.splitlines() if line.rstrip().endswith("{")]
    assert rules and all(line.lstrip().startswith(".jms") for line in rules)
    assert ".jms-best" in text


@pytest.mark.parametrize(
    ("metric", "higher"),
    [("accuracy", True), ("r2_score", True), ("mse", False), ("rmse", False), ("mae", False),
     ("max_error", False), ("neg_mean_squared_error", True), ("neg_root_mean_squared_error", True)],
)
def test_higher_is_better(metric, higher):
    assert higher_is_better(metric) is higher
