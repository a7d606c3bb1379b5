"""Evaluation records pinned case by case: short fingerprints, the same-data guard and its messages,
the ranking note, and how predictions are packed and read back."""

from __future__ import annotations

import io
import logging
import re
import zipfile

import numpy as np
import pytest

from jupyter_modelservice.evaluation.records import (
    common_fingerprint,
    predictions_of,
    ranking_note,
    short_fingerprint,
)
from jupyter_modelservice.evaluation.records import test_record as make_record
from jupyter_modelservice.exceptions import IncompatibleModelsError
from jupyter_modelservice.provenance import data_fingerprint

FP = {c: "sha256:" + c * 64 for c in "abcde"}
SHORT = {c: "sha256:" + c * 12 + "…" for c in "abcde"}


# -- short_fingerprint -----------------------------------------------------------------------------

def test_short_fingerprint_forms():
    assert short_fingerprint(FP["a"]) == SHORT["a"]
    assert short_fingerprint("sha256:0123456789abcdef") == "sha256:0123456789ab…"
    assert short_fingerprint(None) == "unknown data" and short_fingerprint("") == "unknown data"
    # without an algorithm prefix: the first 20 characters
    assert short_fingerprint("0123456789abcdefghijklmnop") == "0123456789abcdefghij"
    assert short_fingerprint("sha256:") == "sha256:"


# -- common_fingerprint ----------------------------------------------------------------------------

def _rows(*letters):
    return [{"data_fingerprint": FP[c]} for c in letters]


def test_the_newest_data_every_version_was_evaluated_on_is_chosen():
    assert common_fingerprint({"m:1": _rows("c", "b", "a"), "m:2": _rows("a", "b")}) == FP["b"]
    assert common_fingerprint({"m:1": _rows("a")}) == FP["a"]


def test_a_requested_fingerprint_missing_for_one_version_is_named():
    records = {"m:1": _rows("a", "b"), "m:2": _rows("b")}
    assert common_fingerprint(records, data_fingerprint=FP["b"]) == FP["b"]
    with pytest.raises(IncompatibleModelsError) as info:
        common_fingerprint(records, data_fingerprint=FP["a"])
    assert str(info.value) == (
        f"Cannot rank stored results on {SHORT['a']}: m:2 was never evaluated on that data (m:2 on {SHORT['b']}). "
        "Evaluate it on it first (compare_models(refs, X_test, y_test) evaluates what is missing and reuses the rest)."
    )


def test_a_requested_fingerprint_missing_for_several_versions_is_named():
    records = {"m:1": _rows("a"), "m:2": [], "m:3": _rows("c")}
    with pytest.raises(IncompatibleModelsError) as info:
        common_fingerprint(records, what="compare", data_fingerprint=FP["c"])
    assert str(info.value) == (
        f"Cannot compare stored results on {SHORT['c']}: m:1, m:2 were never evaluated on that data "
        f"(m:1 on {SHORT['a']}; m:2 never evaluated). "
        "Evaluate them on it first (compare_models(refs, X_test, y_test) evaluates what is missing and reuses the rest)."
    )


def test_no_common_data_lists_each_versions_fingerprints():
    records = {"m:1": _rows("a", "b", "a", "c"), "m:2": _rows("e", "d"), "m:3": _rows("a", "b", "c", "d", "e"),
               "m:4": _rows("d", "c", "b", "a")}
    with pytest.raises(IncompatibleModelsError) as info:
        common_fingerprint(records)
    assert str(info.value) == (
        "Cannot rank stored results computed on different data: "
        f"m:1 on {SHORT['a']}, {SHORT['b']}, {SHORT['c']}; "  # repeated data listed once, exactly 3: no "more"
        f"m:2 on {SHORT['e']}, {SHORT['d']}; "
        f"m:3 on {SHORT['a']}, {SHORT['b']}, {SHORT['c']} and 2 more; "
        f"m:4 on {SHORT['d']}, {SHORT['c']}, {SHORT['b']} and 1 more. "
        "Results are ranked only on the same data; evaluate every model on one test set "
        "(compare_models(refs, X_test, y_test) reuses what is already stored for that data)."
    )


def test_no_records_at_all_is_refused():
    with pytest.raises(IncompatibleModelsError, match="^Cannot rank stored results computed on different data: \\. "):
        common_fingerprint({})


# -- ranking_note ----------------------------------------------------------------------------------

_TAIL = " Compare versions on one test set to rank them."


def _score_row(fp, config="split-1", scoring="accuracy", train=0.9, validation=0.8):
    return {"data_fingerprint": fp, "training_config": {"split": config}, "scoring": scoring,
            "train_score": train, "validation_score": validation}


def test_rows_of_one_data_split_and_scoring_are_a_ranking():
    rows = [_score_row(FP["a"]), _score_row(FP["a"], train=0.7)]
    assert ranking_note(rows, "train_score") is None
    assert ranking_note(rows, "-validation_score") is None
    # only the training-score columns are checked
    assert ranking_note([_score_row(FP["a"]), _score_row(FP["b"])], "accuracy") is None
    assert ranking_note([_score_row(FP["a"]), _score_row(FP["b"])], "-created_at") is None
    # only the "-" of a descending sort is stripped: another prefix names no training-score column
    assert ranking_note([_score_row(FP["a"]), _score_row(FP["b"])], "Xtrain_score") is None


def test_other_splits_of_the_same_data_are_not_a_ranking():
    rows = [_score_row(FP["a"]), _score_row(FP["a"]), _score_row(FP["a"], config="split-2")]
    assert ranking_note(rows, "-train_score") == (
        f"Not a ranking: these train scores were computed on different splits or scorings of the same data "
        f"({SHORT['a']} ×3).{_TAIL}")


def test_another_scoring_of_the_same_data_and_split_is_not_a_ranking():
    rows = [_score_row(FP["a"]), _score_row(FP["a"], scoring="f1")]
    assert ranking_note(rows, "validation_score") == (
        f"Not a ranking: these validation scores were computed on different splits or scorings of the same data "
        f"({SHORT['a']} ×2).{_TAIL}")


def test_different_data_sets_are_counted_and_listed():
    rows = [_score_row(FP["a"]), _score_row(FP["b"]), _score_row(FP["a"])]
    assert ranking_note(rows, "-validation_score") == (
        f"Not a ranking: these validation scores were computed on 2 different data sets: "
        f"{SHORT['a']} ×2, {SHORT['b']} ×1.{_TAIL}")


def test_different_data_and_splits_say_both():
    rows = [_score_row(FP["a"]), _score_row(FP["a"], config="split-2"), _score_row(FP["b"]), _score_row(None)]
    assert ranking_note(rows, "train_score") == (
        f"Not a ranking: these train scores were computed on 3 different data sets (and different splits or "
        f"scorings): {SHORT['a']} ×2, {SHORT['b']} ×1, unknown data ×1.{_TAIL}")


def test_rows_without_the_score_are_left_out():
    rows = [_score_row(FP["c"], train=None), _score_row(FP["a"]), _score_row(FP["a"])]
    assert ranking_note(rows, "train_score") is None
    rows = [_score_row(FP["c"], train=None), _score_row(FP["a"]), _score_row(FP["b"])]
    assert ranking_note(rows, "train_score") == (
        f"Not a ranking: these train scores were computed on 2 different data sets: "
        f"{SHORT['a']} ×1, {SHORT['b']} ×1.{_TAIL}")
    assert ranking_note(rows, "validation_score") == (  # the validation score of the first row counts
        f"Not a ranking: these validation scores were computed on 3 different data sets: "
        f"{SHORT['c']} ×1, {SHORT['a']} ×1, {SHORT['b']} ×1.{_TAIL}")


# -- test_record / predictions_of ------------------------------------------------------------------

def _predictions(n=50, classes=("no", "yes")):
    rng = np.random.default_rng(0)
    proba = rng.dirichlet([1, 1], size=n)
    return {"y_pred": np.asarray(classes)[proba.argmax(axis=1)], "y_score": proba, "classes": list(classes)}


def test_a_record_keeps_the_classes_and_packs_the_predictions_compressed():
    preds = _predictions()
    record = make_record("m", 3, "classification", FP["a"], {"accuracy": 0.5, "n_samples": 50}, preds)
    assert record["details"] == {"classes": ["no", "yes"]}
    assert record["predictions_sha256"] == data_fingerprint(preds["y_pred"], preds["y_score"])
    with zipfile.ZipFile(io.BytesIO(record["predictions"])) as archive:
        assert sorted(archive.namelist()) == ["y_pred.npy", "y_score.npy"]
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_DEFLATED}
    back = predictions_of(record)
    assert set(back) == {"y_pred", "y_score", "classes"}
    assert back["classes"] == ["no", "yes"]
    np.testing.assert_array_equal(back["y_pred"], preds["y_pred"])
    np.testing.assert_array_equal(back["y_score"], preds["y_score"])


def test_a_record_without_classes_or_scores():
    preds = {"y_pred": np.array([1.5, 2.5, 3.5])}
    record = make_record("m", 1, "regression", FP["a"], {"rmse": 1.0}, preds)
    assert record["details"] == {"classes": []}
    assert predictions_of(record) == {"y_pred": pytest.approx(preds["y_pred"]), "y_score": None, "classes": []}
    record["details"] = None  # an old row without details
    assert predictions_of(record)["classes"] == []


def test_the_size_limit_is_inclusive():
    preds = _predictions()
    size = len(make_record("m", 1, "classification", FP["a"], {}, preds)["predictions"])
    assert make_record("m", 1, "classification", FP["a"], {}, preds, limit=size)["predictions"] is not None
    over = make_record("m", 1, "classification", FP["a"], {}, preds, limit=size - 1)
    assert over["predictions"] is None
    assert over["details"]["predictions"] == (f"not stored: {size:,} bytes compressed, over the "
                                              f"{size - 1:,}-byte limit of one evaluation")
    assert over["predictions_sha256"] == data_fingerprint(preds["y_pred"], preds["y_score"])


def test_labels_of_mixed_python_types_keep_only_the_digest():
    y_pred = np.array([1, "a", None], dtype=object)
    y_score = np.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
    record = make_record("m", 1, "classification", FP["a"], {}, {"y_pred": y_pred, "y_score": y_score,
                                                                  "classes": [1, "a"]})
    assert record["predictions"] is None
    assert record["details"] == {"classes": [1, "a"],
                                 "predictions": "not stored: the labels are Python objects of mixed types"}
    assert record["predictions_sha256"] == data_fingerprint(y_pred, y_score)
    assert record["predictions_sha256"] != data_fingerprint(y_pred)



@pytest.mark.parametrize("labels", [[1, "a", 2.5], [True, "yes", "no"], [1, "1", "b"]])
def test_labels_that_numpy_would_turn_into_text_keep_only_the_digest(labels):
    y_pred = np.array(labels, dtype=object)  # stored as text, 1 would no longer equal the label 1
    record = make_record("m", 1, "classification", FP["a"], {}, {"y_pred": y_pred, "y_score": None,
                                                                  "classes": sorted(map(str, labels))})
    assert record["predictions"] is None
    assert record["predictions_sha256"] == data_fingerprint(y_pred, None)


def test_text_labels_in_an_object_array_are_stored_and_read_back_equal():
    y_pred = np.array(["cat", "dog", "cat"], dtype=object)  # what pandas gives for string labels
    record = make_record("m", 1, "classification", FP["a"], {}, {"y_pred": y_pred, "y_score": None,
                                                                  "classes": ["cat", "dog"]})
    assert record["predictions"] is not None
    back = predictions_of({**record, "evaluation_id": 1})
    assert back is not None and back["y_pred"].tolist() == ["cat", "dog", "cat"]

def test_predictions_that_cannot_be_read_are_logged_and_dropped(caplog):
    with caplog.at_level(logging.WARNING, logger="jupyter_modelservice.evaluation.records"):
        assert predictions_of({"evaluation_id": 7, "predictions": b"not a zip file", "predictions_sha256": "x"}) is None
    message, = [r.getMessage() for r in caplog.records]
    assert re.fullmatch(r"The stored predictions of evaluation 7 cannot be read \((.+)\); predicting again\.", message)
    assert "(None)" not in message


def test_pickled_predictions_are_never_loaded(caplog):
    y_pred = np.array([1, "a", None], dtype=object)
    buffer = io.BytesIO()
    np.savez(buffer, y_pred=y_pred)  # an object array: stored with pickle
    record = {"evaluation_id": 8, "predictions": buffer.getvalue(), "predictions_sha256": data_fingerprint(y_pred)}
    with caplog.at_level(logging.WARNING, logger="jupyter_modelservice.evaluation.records"):
        assert predictions_of(record) is None
    assert "The stored predictions of evaluation 8 cannot be read (" in caplog.text


def test_predictions_that_do_not_match_their_digest_are_logged_and_dropped(caplog):
    record = make_record("m", 1, "classification", FP["a"], {}, _predictions())
    record["evaluation_id"] = 9
    record["predictions_sha256"] = data_fingerprint(np.zeros(3))
    with caplog.at_level(logging.WARNING, logger="jupyter_modelservice.evaluation.records"):
        assert predictions_of(record) is None
    assert [r.getMessage() for r in caplog.records] == [
        "The stored predictions of evaluation 9 do not match their digest; predicting again."]
