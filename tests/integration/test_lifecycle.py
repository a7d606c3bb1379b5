"""Promotion with evidence, rollback along the history, and what was in production when: both databases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier

from jupyter_modelservice import NoModelError, PromotionRefusedError


@pytest.fixture(scope="module")
def data():
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=1000, n_features=8, n_informative=5, random_state=0)
    return X[:500], y[:500], X[500:], y[500:]


def _versions(service, data, n):
    X, y = data[0], data[1]
    for seed in range(n):
        service.train_model(DummyClassifier, X, y, model_id="m", strategy="prior", random_state=seed)
        service.save_model("m")


def test_rolling_back_twice_goes_back_two_steps(service, data):
    _versions(service, data, 3)
    for version in (1, 2, 3):
        service.promote("m", version=version)
    assert service.rollback("m") == "m:2"
    assert [r["version"] for r in service.list_models(model_id="m", status="production")] == [2]
    assert service.rollback("m") == "m:1"  # not back to 3
    with pytest.raises(NoModelError, match="no earlier production version"):
        service.rollback("m")
    statuses = {r["version"]: r["status"] for r in service.list_models(model_id="m")}
    assert statuses == {1: "production", 2: "saved", 3: "saved"}
    service.promote("m", version=3)  # a new promotion after rollbacks: back to 1 from there
    assert service.rollback("m") == "m:1"


def test_rollback_without_production_is_a_clear_error(service, data):
    _versions(service, data, 1)
    with pytest.raises(NoModelError, match="no version in production"):
        service.rollback("m")


def test_production_at_replays_the_history(service, data):
    _versions(service, data, 2)
    before = service.model_history("m")[-1]["at"]
    service.promote("m", version=1)
    first = service.model_history("m")[-1]["at"]
    service.promote("m", version=2)
    second = service.model_history("m")[-1]["at"]
    assert service.production_at("m", before) is None
    assert service.production_at("m", first) == "m:1"
    assert service.production_at("m", second) == "m:2"
    as_of = {r["version"]: r["status"] for r in service.list_models(model_id="m", as_of=first)}
    assert as_of == {1: "production", 2: "saved"}
    assert service.list_models(model_id="m", as_of="2000-01-01") == []
    with pytest.raises(ValueError, match="Cannot read 'yesterday'"):
        service.production_at("m", "yesterday")


def test_promotion_records_its_evidence_and_can_require_a_better_model(service, data):
    X, y, X_test, y_test = data
    service.train_model(RandomForestClassifier, X, y, model_id="m", n_estimators=30, random_state=0)
    service.save_model("m")
    service.promote("m")  # the forest: m:1
    service.train_model(DummyClassifier, X, y, model_id="m")
    service.save_model("m")
    with pytest.raises(PromotionRefusedError, match="not significantly better") as refused:
        service.promote("m:2", X_test=X_test, y_test=y_test, require_better=True)
    assert refused.value.evidence["compared_with"] == "m:1" and refused.value.evidence["p_value"] < 0.001
    assert service.production_at("m", "9999-12-31") == "m:1"  # unchanged
    service.train_model(RandomForestClassifier, X, y, model_id="m", n_estimators=30, random_state=1)
    service.save_model("m")
    service.promote("m:1", X_test=X_test, y_test=y_test)  # already in production: nothing to record
    service.promote("m:3", X_test=X_test, y_test=y_test)  # no requirement: promoted with its evidence
    event = [e for e in service.model_history("m:3") if e["to_status"] == "production"][-1]
    evidence = event["details"]["promotion"]
    assert evidence["compared_with"] == "m:1" and evidence["metric"] == "accuracy"
    assert evidence["test"] == "exact McNemar" and evidence["n_samples"] == len(y_test)
    assert evidence["data_fingerprint"] and 0 <= evidence["p_value"] <= 1 and event["actor"]
    assert np.isclose(evidence["challenger_value"], service.get_model_metadata("m:3")["metrics"]["accuracy"])


def test_lineage_follows_parents_to_the_root(service, data):
    X, y = data[0], data[1]
    service.train_model(DummyClassifier, X, y, model_id="base")
    service.train_model(DummyClassifier, X[:200], y[:200], model_id="base", parent="base:1")
    child = service.train_model(DummyClassifier, X[:100], y[:100], model_id="child", parent="base")
    assert child["parent"] == "base:2"  # a bare id is resolved to the version it meant
    assert service.lineage("child") == ["child:1", "base:2", "base:1"]
    assert service.lineage("base:1") == ["base:1"]
    with pytest.raises(KeyError, match="nope"):
        service.train_model(DummyClassifier, X, y, model_id="x", parent="nope:1")
    service.delete_model("base:1")
    assert service.lineage("child") == ["child:1", "base:2", "base:1"]  # the deleted root is still named
