"""Evaluations are records with their data: stored, reused on the same data, refreshed on request, guarded."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from jupyter_modelservice import IncompatibleModelsError, ModelService
from jupyter_modelservice.evaluation import records
from jupyter_modelservice.model_files import ModelFiles
from jupyter_modelservice.provenance import data_fingerprint
from tests.old_schema import downgrade

CALLS: Counter = Counter()


class CountingLR(LogisticRegression):
    """A logistic regression that counts the predictions asked of it."""

    def predict(self, X):
        CALLS["predict"] += 1
        return super().predict(X)

    def predict_proba(self, X):
        CALLS["predict_proba"] += 1
        return super().predict_proba(X)


@pytest.fixture(scope="module")
def data():
    """A binary task as DataFrame / Series: 400 training rows, 171 test rows."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=571, n_features=8, n_informative=4, flip_y=0.1, random_state=0)
    X, y = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)]), pd.Series(y, name="target")
    return train_test_split(X, y, test_size=171, random_state=0, stratify=y)


@pytest.fixture
def two(service, data):
    """Versions a:1 (C=1) and b:1 (C=0.01) of a counting logistic regression; counters reset."""
    X_tr, _, y_tr, _ = data
    service.train_model(CountingLR, X_tr, y_tr, model_id="a")
    service.train_model(CountingLR, X_tr, y_tr, model_id="b", C=0.01)
    CALLS.clear()
    return service


def test_every_evaluation_is_recorded_with_its_data_and_a_digest_of_its_predictions(two, data):
    _, X_te, _, y_te = data
    result = two.evaluate_model(X_te, y_te, model_id="a")
    assert list(result)[:3] == ["model_id", "version", "model_class"] and "predictions" not in result
    [record] = two.evaluations("a")
    model = two.get_model("a")
    assert record["kind"] == "test" and record["task_type"] == "classification"
    assert record["data_fingerprint"] == data_fingerprint(X_te, y_te)
    assert record["n_samples"] == len(y_te) and record["actor"] and record["evaluated_at"]
    assert record["metrics"] == {k: v for k, v in result.items() if k not in ("model_id", "version", "model_class")}
    assert record["predictions_sha256"] == data_fingerprint(model.predict(X_te), model.predict_proba(X_te))
    assert record["predictions_stored"] and "predictions" not in record

    X_half, y_half = X_te.iloc[:80], y_te.iloc[:80]
    two.compare_models(["a", "b"], X_half, y_half)
    newest, older = two.evaluations("a")
    assert newest["data_fingerprint"] == data_fingerprint(X_half, y_half) and newest["n_samples"] == 80
    assert older == record  # newest first; a record never changes
    assert [r["n_samples"] for r in two.evaluations("b")] == [80]
    assert two.get_model_metadata("a")["metrics"] == newest["metrics"]  # the column keeps the latest


def test_the_same_data_is_not_predicted_again_unless_refresh(two, data):
    _, X_te, _, y_te = data
    first = two.evaluate_model(X_te, y_te, model_id="a", return_predictions=True)
    assert CALLS == {"predict": 1, "predict_proba": 1}
    again = two.evaluate_model(X_te.copy(), y_te.copy(), model_id="a", return_predictions=True)  # equal data
    assert CALLS == {"predict": 1, "predict_proba": 1}
    np.testing.assert_array_equal(again.pop("predictions")["y_pred"], first["predictions"]["y_pred"])
    np.testing.assert_array_equal(two.evaluate_model(X_te, y_te, "a")["confusion_matrix"], first["confusion_matrix"])
    assert CALLS["predict"] == 1 and len(two.evaluations("a")) == 1
    first.pop("predictions")
    assert again == first

    two.evaluate_model(X_te, y_te, model_id="a", refresh=True)
    assert CALLS == {"predict": 2, "predict_proba": 2} and len(two.evaluations("a")) == 2
    two.evaluate_model(X_te.iloc[1:], y_te.iloc[1:], model_id="a")  # other data: predicted
    assert CALLS["predict"] == 3 and len(two.evaluations("a")) == 3


def test_a_second_comparison_reuses_the_stored_predictions_and_gives_the_same_table(two, data):
    _, X_te, _, y_te = data
    first = two.compare_models(["a", "b"], X_te, y_te, metric="roc_auc")
    assert CALLS == {"predict": 2, "predict_proba": 2} and first.attrs["reused"] == []
    done = []
    second = two.compare_models(["a", "b"], X_te, y_te, metric="roc_auc", progress=lambda d, t: done.append(d))
    assert CALLS == {"predict": 2, "predict_proba": 2}  # nothing predicted
    assert second.attrs["reused"] == ["a:1", "b:1"] and done == [1, 2]
    pd.testing.assert_frame_equal(first, second)
    third = two.compare_models(["a", "b"], X_te, y_te, metric="roc_auc", refresh=True)
    assert CALLS == {"predict": 4, "predict_proba": 4} and third.attrs["reused"] == []
    pd.testing.assert_frame_equal(first, third)
    assert [len(two.evaluations(m)) for m in "ab"] == [2, 2]


def test_bootstrap_values_are_kept_and_reused_whatever_the_other_models(two, data, monkeypatch):
    from jupyter_modelservice.evaluation import resampling, significance

    _, X_te, _, y_te = data
    two.train_model(CountingLR, *data[::2], model_id="c", C=0.1)
    two.compare_models(["a", "b"], X_te, y_te, metric="f1_score", n_bootstrap=300, random_state=4)
    calls = []
    real = resampling.resampled
    monkeypatch.setattr(resampling, "resampled", lambda m, y, p, i: calls.append(m) or real(m, y, p, i))
    mixed = two.compare_models(["c", "a"], X_te, y_te, metric="f1_score", n_bootstrap=300, random_state=4)
    assert calls == ["f1_score"]  # c only (one chunk of resamples at 171 rows); a's values were kept
    predictions = {f"{m}:1": two.evaluate_model(X_te, y_te, m, return_predictions=True)["predictions"]
                   for m in ("a", "c")}
    values = {r: mixed.set_index("model_id").loc[r[0], "f1_score"] for r in predictions}
    fresh, _ = significance.paired_comparison(y_te, predictions, "f1_score", values, n_bootstrap=300,
                                              random_state=4)
    for row in mixed.itertuples():
        ref = f"{row.model_id}:1"
        assert (row.ci_low, row.ci_high) == (fresh[ref].ci_low, fresh[ref].ci_high)
        assert row.p_value == fresh[ref].p_value or (np.isnan(row.p_value) and np.isnan(fresh[ref].p_value))
    calls.clear()
    two.compare_models(["c", "a"], X_te, y_te, metric="f1_score", n_bootstrap=300, random_state=5)  # other seed
    assert len(calls) == 2  # another seed: other resamples, both models
    with two.registry.atomic(write=False) as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM evaluation_resamples").scalar_one() == 5
    two.delete_model("a")
    with two.registry.atomic(write=False) as conn:  # went with the evaluations of a:1
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM evaluation_resamples").scalar_one() == 3


def test_reuse_loads_no_model_in_a_new_session(two, data, tmp_path, monkeypatch):
    _, X_te, _, y_te = data
    for model_id in "ab":
        two.save_model(model_id)
    first = two.compare_models(["a", "b"], X_te, y_te)
    monkeypatch.setattr(ModelFiles, "read", lambda *a, **k: pytest.fail("a model file was read"))
    with ModelService(models_directory=tmp_path / "models") as later:
        pd.testing.assert_frame_equal(later.compare_models(["a", "b"], X_te, y_te), first)
        assert later.evaluate_model(X_te, y_te, "b")["accuracy"] == first.set_index("model_id").loc["b", "accuracy"]


def test_predictions_over_the_size_bound_keep_only_their_digest(two, data, monkeypatch):
    _, X_te, _, y_te = data
    monkeypatch.setattr(records, "MAX_PREDICTION_BYTES", 100)
    two.compare_models(["a", "b"], X_te, y_te)
    [record] = two.evaluations("a")
    assert not record["predictions_stored"] and record["predictions_sha256"]
    assert "over the 100-byte limit" in record["details"]["predictions"]
    CALLS.clear()
    two.evaluate_model(X_te, y_te, "a")  # the metrics are stored: no predictions needed
    assert CALLS["predict"] == 0
    two.compare_models(["a", "b"], X_te, y_te)  # significance needs the predictions: predicted again
    assert CALLS["predict"] == 2


def test_predictions_that_do_not_match_their_digest_are_predicted_again(two, data):
    _, X_te, _, y_te = data
    two.evaluate_model(X_te, y_te, "a")
    with two.registry.atomic() as conn:
        conn.exec_driver_sql("UPDATE evaluations SET predictions_sha256 = 'sha256:00'")
    CALLS.clear()
    two.evaluate_model(X_te, y_te, "a", return_predictions=True)
    assert CALLS["predict"] == 1


def test_string_labels_are_stored_and_reused(service, iris):
    X, y = iris
    labels = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    service.train_model(LogisticRegression, X, labels, model_id="lr", max_iter=1000)
    first = service.compare_models(["lr"], X, labels)
    assert service.evaluations("lr")[0]["predictions_stored"]
    pd.testing.assert_frame_equal(service.compare_models(["lr"], X, labels), first)
    assert service.compare_models(["lr"], X, labels).attrs["reused"] == ["lr:1"]


def test_the_version_metrics_column_keeps_the_latest_evaluation(two, data):
    _, X_te, _, y_te = data
    on_all = two.evaluate_model(X_te, y_te, "a")
    two.evaluate_model(X_te.iloc[:50], y_te.iloc[:50], "a")
    assert two.get_model_metadata("a")["metrics"]["n_samples"] == 50
    two.evaluate_model(X_te, y_te, "a")  # reused, and the latest again
    assert two.get_model_metadata("a")["metrics"]["n_samples"] == on_all["n_samples"] == len(y_te)


def test_stored_results_on_different_data_are_never_ranked(two, data):
    _, X_te, _, y_te = data
    A, B = (X_te.iloc[:100], y_te.iloc[:100]), (X_te.iloc[100:], y_te.iloc[100:])
    two.evaluate_model(*A, "a")
    two.evaluate_model(*B, "b")
    fp_a, fp_b = data_fingerprint(*A), data_fingerprint(*B)
    with pytest.raises(IncompatibleModelsError, match="different data") as err:
        two.compare_evaluations(["a", "b"])
    message = str(err.value)
    assert records.short_fingerprint(fp_a) in message and records.short_fingerprint(fp_b) in message
    assert "a:1 on" in message and "b:1 on" in message

    two.evaluate_model(*A, "b")  # now both on A (b newest on A)
    CALLS.clear()
    frame = two.compare_evaluations(["a", "b"])
    assert CALLS == {} and frame.attrs["stored"] and frame.attrs["data_fingerprint"] == fp_a
    assert frame.attrs["n_samples"] == 100 and "no paired test" in frame.attrs["note"]
    assert list(frame["accuracy"]) == sorted(frame["accuracy"], reverse=True)
    with pytest.raises(IncompatibleModelsError, match="a:1 was never evaluated on that data"):
        two.compare_evaluations(["a", "b"], data_fingerprint=fp_b)


def test_a_deleted_version_takes_its_evaluations_along(two, data):
    _, X_te, _, y_te = data
    two.compare_models(["a", "b"], X_te, y_te)
    two.delete_model("a")
    with two.registry.atomic(write=False) as conn:
        left = conn.exec_driver_sql("SELECT model_id FROM evaluations").scalars().all()
    assert left == ["b"]


# -- schema version 4: the evaluations table ------------------------------------------------------
def _evaluations_sql(db):
    import sqlite3

    with sqlite3.connect(db) as con:
        found = con.execute("SELECT name, sql FROM sqlite_master WHERE name LIKE '%evaluation%' ORDER BY name").fetchall()
    con.close()
    return found


def test_a_version_3_registry_gets_the_evaluations_table(tmp_path, data):
    import sqlite3

    from jupyter_modelservice.registry.schema import SCHEMA_VERSION

    X_tr, X_te, y_tr, y_te = data
    fresh, old = tmp_path / "fresh", tmp_path / "old"
    for models in (fresh, old):
        with ModelService(models_directory=models) as service:
            service.train_model(LogisticRegression, X_tr, y_tr, model_id="lr")
            service.save_model("lr")
            service.evaluate_model(X_te, y_te, "lr")
    with sqlite3.connect(old / "registry.db") as con:  # back to what schema version 3 wrote
        downgrade(con, 3)
    con.close()
    with ModelService(models_directory=old) as upgraded:
        assert upgraded.registry.schema_version() == SCHEMA_VERSION
        assert upgraded.evaluations("lr") == []
        metrics = upgraded.get_model_metadata("lr")["metrics"]  # kept from before the upgrade
        result = upgraded.evaluate_model(X_te, y_te, "lr")
        assert result["accuracy"] == metrics["accuracy"] and len(upgraded.evaluations("lr")) == 1
        upgraded.delete_model("lr")  # the foreign key of the upgraded table cascades too
        with upgraded.registry.atomic(write=False) as conn:
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM evaluations").scalar_one() == 0
    created = _evaluations_sql(fresh / "registry.db")
    assert {"evaluations", "ix_evaluations_version_data", "evaluation_resamples"} <= {n for n, _ in created}
    assert _evaluations_sql(old / "registry.db") == created  # the step creates exactly the tables of version 4


def test_a_comparison_of_stored_metrics_says_it_has_no_test(two, data):
    from jupyter_modelservice.display import ComparisonResult

    _, X_te, _, y_te = data
    for model_id in "ab":
        two.evaluate_model(X_te, y_te, model_id)
    result = ComparisonResult(two.compare_evaluations(["a", "b"]))
    assert result.winner is None and result.tied == []
    assert "no paired test" in result.verdict() and "no paired test" in result.summary()
    assert "no paired test" in result.to_text() and "no paired test" in result.to_html()
