"""`Registry.register` returns the row exactly as a later read gives it, on both databases."""

from __future__ import annotations

import pytest

from jupyter_modelservice.registry import Registry


@pytest.fixture(params=["sqlite", "postgresql"])
def registry(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    reg = Registry(url)
    yield reg
    reg.close()


def test_the_returned_row_is_the_stored_row(registry):
    row = {"model_id": "rf", "model_class": "RandomForestClassifier", "train_score": 1.0, "validation_score": 0.0,
           "fit_seconds": 2.0, "training_samples": 40, "model_params": {"n": 1, "x": 1.0, "s": None},
           "tags": {"team": "vision"}, "feature_names": ["a", "b"]}
    for _ in range(2):
        stored = registry.register(row)
        read = registry.get("rf", stored["version"])
        assert stored == read
        assert {k: type(v) for k, v in stored.items()} == {k: type(v) for k, v in read.items()}
        assert type(stored["train_score"]) is float and stored["train_score"] == 1.0
    assert [stored["version"] for stored in (registry.get("rf", 1), registry.get("rf", 2))] == [1, 2]
