"""A small registry of trained and saved models for the widget panels."""

from __future__ import annotations

import pytest


@pytest.fixture
def registry(service, iris, diabetes):
    """``service`` holding: rf:1, rf:2, lr:1, knn:1 (saved, iris), ridge:1 (saved, diabetes),
    tree:1 (trained, unsaved, in memory), in training order."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris
    for model_id, cls, params in [
        ("rf", RandomForestClassifier, {"n_estimators": 5, "random_state": 0}),
        ("rf", RandomForestClassifier, {"n_estimators": 12, "random_state": 1}),
        ("lr", LogisticRegression, {"max_iter": 500}),
        ("knn", KNeighborsClassifier, {"n_neighbors": 3}),
    ]:
        service.train_model(cls, X, y, model_id=model_id, **params)
        service.save_model(model_id)
    service.train_model(Ridge, *diabetes, model_id="ridge")
    service.save_model("ridge")
    service.train_model(DecisionTreeClassifier, X, y, model_id="tree", max_depth=2, random_state=0)
    return service


@pytest.fixture
def namespace(iris, diabetes):
    X, y = iris
    return {"X_test": X, "y_test": y, "X_reg": diabetes[0], "y_reg": diabetes[1]}


@pytest.fixture
def shell_display():
    """``shell_display(panel)`` → the MIME bundles IPython publishes when the panel is displayed."""
    from IPython.display import display
    from IPython.testing.globalipapp import start_ipython
    from IPython.utils.capture import capture_output

    start_ipython()

    def shown(obj):
        with capture_output() as cap:
            display(obj)
        return [output.data for output in cap.outputs]

    return shown
