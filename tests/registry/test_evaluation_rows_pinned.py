"""Evaluation records and their kept bootstrap values (``evaluations``, ``evaluation_resamples``),
pinned one behaviour per test on a real SQLite file."""

from __future__ import annotations

import re

import pytest

from jupyter_modelservice.exceptions import InvalidInputError, ModelNotFoundError
from jupyter_modelservice.registry import Registry
from tests.integration.conftest import pg_database, pg_url  # noqa: F401 - fixtures used by name

KEY = ("roc_auc", 1000, 0, 2)


@pytest.fixture
def reg(tmp_path):
    registry = Registry(f"sqlite:///{tmp_path / 'r.db'}")
    for model_id in ("rf", "rf", "svc"):
        registry.add_version({"model_id": model_id, "model_class": "X"})
    yield registry
    registry.close()


def record(model_id="rf", version=1, **extra):
    return {"model_id": model_id, "version": version, "kind": "test", "data_fingerprint": "data-a", **extra}


def test_an_evaluation_reads_back_with_who_and_when(reg, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "alice")
    evaluation_id = reg.add_evaluation(record(task_type="classification", n_samples=30, metrics={"accuracy": 0.5},
                                              details={"classes": [0, 1]}, predictions_sha256="s"))
    got = reg.evaluations("rf", 1)[0]
    assert {k: got[k] for k in ("evaluation_id", "kind", "task_type", "data_fingerprint", "n_samples", "metrics",
                                "details", "predictions_sha256", "actor")} == {
        "evaluation_id": evaluation_id, "kind": "test", "task_type": "classification", "data_fingerprint": "data-a",
        "n_samples": 30, "metrics": {"accuracy": 0.5}, "details": {"classes": [0, 1]}, "predictions_sha256": "s",
        "actor": "alice"}
    assert re.fullmatch(r"\d{4}-.*\+00:00", got["evaluated_at"])


def test_evaluation_ids_are_returned_as_ints_in_order(reg):
    first, second = reg.add_evaluation(record()), reg.add_evaluation(record())
    assert type(first) is int and second == first + 1


def test_an_unknown_field_is_refused_by_name(reg):
    with pytest.raises(InvalidInputError, match=r"Unknown evaluation field\(s\) \['score'\]; use model_id, version, kind, task_type,"):
        reg.add_evaluation(record(score=1))


@pytest.mark.parametrize("kind", ["train", None])
def test_a_kind_other_than_test_or_cv_is_refused(reg, kind):
    with pytest.raises(InvalidInputError, match=f"not {kind!r}"):
        reg.add_evaluation(record(kind=kind))


def test_a_cv_evaluation_is_accepted(reg):
    reg.add_evaluation(record(kind="cv"))
    assert [e["kind"] for e in reg.evaluations("rf")] == ["cv"]


def test_an_evaluation_of_a_missing_version_is_model_not_found(reg):
    with pytest.raises(ModelNotFoundError):
        reg.add_evaluation(record(version=7))
    assert reg.evaluations("rf") == []


def test_evaluations_are_newest_first(reg):
    ids = [reg.add_evaluation(record(version=v)) for v in (1, 2, 1)]
    assert [e["evaluation_id"] for e in reg.evaluations("rf")] == ids[::-1]


def test_evaluations_of_one_version(reg):
    reg.add_evaluation(record(version=1))
    reg.add_evaluation(record(version=2))
    assert [e["version"] for e in reg.evaluations("rf", 2)] == [2]


def test_evaluations_of_one_id_only(reg):
    reg.add_evaluation(record("svc"))
    reg.add_evaluation(record("rf"))
    assert [e["model_id"] for e in reg.evaluations("svc")] == ["svc"]


def test_evaluations_of_one_kind(reg):
    reg.add_evaluation(record(kind="cv"))
    reg.add_evaluation(record(kind="test"))
    assert [e["kind"] for e in reg.evaluations("rf", kind="cv")] == ["cv"]


def test_evaluations_on_some_data(reg):
    reg.add_evaluation(record(data_fingerprint="data-b"))
    reg.add_evaluation(record(data_fingerprint="data-a"))
    assert [e["data_fingerprint"] for e in reg.evaluations("rf", data_fingerprint="data-b")] == ["data-b"]


def test_evaluations_up_to_a_limit_keep_the_newest(reg):
    ids = [reg.add_evaluation(record()) for _ in range(3)]
    assert [e["evaluation_id"] for e in reg.evaluations("rf", limit=2)] == ids[:0:-1]


def test_predictions_are_returned_only_when_asked(reg):
    reg.add_evaluation(record(predictions=b"npz-bytes"))
    plain, full = reg.evaluations("rf")[0], reg.evaluations("rf", predictions=True)[0]
    assert "predictions" not in plain and plain["predictions_stored"] is True
    assert full["predictions"] == b"npz-bytes" and type(full["predictions"]) is bytes


#: The fields of an evaluation row as read back (without the predictions bytes).
ROW_FIELDS = ["actor", "data_fingerprint", "details", "evaluated_at", "evaluation_id", "kind", "metrics", "model_id",
              "n_samples", "predictions_sha256", "predictions_stored", "task_type", "version"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def either(request, tmp_path):
    """A registry with rf:1, on SQLite and on PostgreSQL."""
    url = f"sqlite:///{tmp_path / 'e.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    with Registry(url) as registry:
        registry.add_version({"model_id": "rf", "model_class": "X"})
        yield registry


@pytest.mark.parametrize("predictions", [b"npz-bytes", None])
def test_an_evaluation_row_has_its_fields_and_nothing_else(either, predictions):
    either.add_evaluation(record(predictions=predictions))
    plain, full = either.evaluations("rf")[0], either.evaluations("rf", predictions=True)[0]
    assert sorted(plain) == ROW_FIELDS and sorted(full) == sorted([*ROW_FIELDS, "predictions"])
    assert plain["predictions_stored"] is (predictions is not None) and full["predictions"] == predictions
    assert type(full["predictions"]) is type(predictions)


def test_an_evaluation_without_predictions_says_so(reg):
    reg.add_evaluation(record())
    got = reg.evaluations("rf", predictions=True)[0]
    assert got["predictions_stored"] is False and got["predictions"] is None


# -- kept bootstrap values -------------------------------------------------------------------------

def test_resamples_are_kept_once_per_key(reg):
    evaluation_id = reg.add_evaluation(record())
    assert reg.add_resamples("rf", evaluation_id, KEY, b"first") is True
    assert reg.add_resamples("rf", evaluation_id, KEY, b"second") is False
    assert reg.resamples([evaluation_id], KEY) == {evaluation_id: b"first"}


@pytest.mark.parametrize("other", [("accuracy", 1000, 0, 2), ("roc_auc", 999, 0, 2), ("roc_auc", 1000, 1, 2),
                                   ("roc_auc", 1000, 0, 1)])
def test_resamples_under_another_key_are_kept_apart(reg, other):
    evaluation_id = reg.add_evaluation(record())
    reg.add_resamples("rf", evaluation_id, KEY, b"one")
    assert reg.add_resamples("rf", evaluation_id, other, b"two") is True
    assert reg.resamples([evaluation_id], other) == {evaluation_id: b"two"}
    assert reg.resamples([evaluation_id], KEY) == {evaluation_id: b"one"}


def test_resamples_of_one_evaluation_are_not_those_of_another(reg):
    first, second = reg.add_evaluation(record()), reg.add_evaluation(record())
    reg.add_resamples("rf", first, KEY, b"one")
    assert reg.add_resamples("rf", second, KEY, b"two") is True
    assert reg.resamples([first, second], KEY) == {first: b"one", second: b"two"}
    assert reg.resamples([second], KEY) == {second: b"two"}


def test_resamples_of_a_gone_evaluation_are_not_kept(reg):
    evaluation_id = reg.add_evaluation(record(version=2))
    reg.delete("rf", 2)
    assert reg.add_resamples("rf", evaluation_id, KEY, b"x") is False
    assert reg.resamples([evaluation_id], KEY) == {}


def test_resamples_of_no_evaluations_are_none(reg):
    assert reg.resamples([], KEY) == {}


def test_resamples_are_read_from_any_iterable(reg):
    evaluation_id = reg.add_evaluation(record())
    reg.add_resamples("rf", evaluation_id, KEY, b"v")
    assert reg.resamples(iter([evaluation_id]), KEY) == {evaluation_id: b"v"}


def test_deleting_a_version_deletes_its_evaluations_and_resamples(reg):
    evaluation_id = reg.add_evaluation(record())
    reg.add_resamples("rf", evaluation_id, KEY, b"v")
    reg.delete("rf", 1)
    assert reg.evaluations("rf", 1) == [] and reg.resamples([evaluation_id], KEY) == {}
