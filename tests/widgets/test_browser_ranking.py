"""The registry browser says when versions sorted by a training score are not a ranking."""

from __future__ import annotations

from jupyter_modelservice.evaluation.records import ranking_note, short_fingerprint
from jupyter_modelservice.notebook.browser import RegistryBrowser


def test_sorting_by_validation_score_over_different_data_is_not_called_a_ranking(registry, iris, diabetes):
    browser = RegistryBrowser(registry, order_by="-validation_score")
    iris_fp = registry.get_model_metadata("lr")["data_fingerprint"]
    ridge_fp = registry.get_model_metadata("ridge")["data_fingerprint"]
    label = browser.page_label.value
    assert "Not a ranking" in label and "2 different data sets" in label
    assert f"{short_fingerprint(iris_fp)} ×5" in label and f"{short_fingerprint(ridge_fp)} ×1" in label
    browser.sort.value = "-training_date"  # a date is no score
    assert "Not a ranking" not in browser.page_label.value
    browser.sort.value = "-train_score"
    assert "Not a ranking" in browser.page_label.value
    browser.search.value = "rf"  # rf:1 and rf:2 were split with their own seeds (random_state 0 and 1)
    assert "different splits or scorings of the same data" in browser.page_label.value
    browser.search.value = "lr"
    assert "Not a ranking" not in browser.page_label.value


def test_ranking_note_tells_splits_of_the_same_data_apart():
    rows = [{"validation_score": 0.9, "data_fingerprint": "sha256:" + "a" * 64, "training_config": {"seed": s},
             "scoring": "accuracy"} for s in (0, 1)]
    assert "different splits or scorings of the same data" in ranking_note(rows, "validation_score")
    assert ranking_note(rows[:1], "validation_score") is None
    assert ranking_note(rows, "model_id") is None
    assert ranking_note([{**rows[0], "validation_score": None}, rows[1]], "-validation_score") is None
