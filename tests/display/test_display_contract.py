"""The results follow scikit-learn's Display contract: ``plot(ax=None, **kwargs)`` stores ``ax_`` and
``figure_`` and returns the result, ``from_predictions`` takes true labels and predictions, and every
result gives what it shows as a DataFrame with ``frame()``."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from jupyter_modelservice.display import (
    ComparisonResult,
    CVComparisonResult,
    CVResult,
    DiffResult,
    EvaluationResult,
    ImportanceResult,
    RegistryTable,
    ReproductionResult,
    ServiceConfig,
    TrainResult,
)
from jupyter_modelservice.display.figures import plain_text

from .checks import png_bytes


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    """No test here may leave a figure in pyplot's figure manager (a notebook would show it)."""
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []
    yield
    assert plt.get_fignums() == []


def _binary(classification_eval):
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 100)
    y_score = np.clip(y_true * 0.5 + rng.random(100) * 0.6, 0, 1)
    return EvaluationResult(classification_eval, y_true=y_true, y_score=y_score, pos_label=1)


def _regression(regression_eval):
    rng = np.random.default_rng(1)
    y_true = rng.normal(150, 50, 80)
    return EvaluationResult(regression_eval, y_true=y_true, y_pred=y_true + rng.normal(0, 20, 80))


def _comparison(task):
    if task == "classification":
        return ComparisonResult(pd.DataFrame({"model_id": ["a", "b"], "version": [1, 2],
                                              "task_type": ["classification"] * 2,
                                              "accuracy": [0.9, 0.8], "recall": [0.7, 0.85]}))
    return ComparisonResult(pd.DataFrame({"model_id": ["a", "b"], "version": [1, 1],
                                          "task_type": ["regression"] * 2, "r2_score": [0.5, 0.4],
                                          "rmse": [50.0, 40.0], "mae": [40.0, 30.0], "mse": [2500.0, 1600.0]}))


def _cv_comparison():
    frame = pd.DataFrame({"model_id": ["a", "b"], "version": [1, 1], "model_class": ["A", "B"],
                          "mean_score": [0.9, 0.8], "std_score": [0.01, 0.02], "n_folds": [3, 3],
                          "fold_scores": [[0.89, 0.9, 0.91], [0.78, 0.8, 0.82]],
                          "p_value": [float("nan"), 0.01], "tied_with_best": [True, False]})
    frame.attrs.update(metric="accuracy", test="corrected resampled t-test", alpha=0.05, n_folds=3,
                       splitter={"class": "KFold", "shuffle": False, "random_state": None})
    return CVComparisonResult(frame)


#: name → (factory of a result with a chart, number of panels)
CHARTS = {
    "classification with ROC": (lambda f: _binary(f["classification_eval"]), 2),
    "classification": (lambda f: EvaluationResult(f["classification_eval"]), 1),
    "regression": (lambda f: _regression(f["regression_eval"]), 2),
    "cv": (lambda f: CVResult(f["cv_data"]), 1),
    "train with cv": (lambda f: TrainResult(f["train_data"], CVResult(f["cv_data"])), 1),
    "importance": (lambda f: ImportanceResult({"a": 0.5, "b": -0.2}, ref="m:1"), 1),
    "comparison": (lambda f: _comparison("classification"), 1),
    "comparison per metric": (lambda f: _comparison("regression"), 4),
    "cv comparison": (lambda f: _cv_comparison(), 1),
}


@pytest.fixture
def fixtures(classification_eval, regression_eval, cv_data, train_data):
    return {"classification_eval": classification_eval, "regression_eval": regression_eval,
            "cv_data": cv_data, "train_data": train_data}


def _drawn(ax: Axes) -> int:
    return len(ax.lines) + len(ax.patches) + len(ax.images) + len(ax.collections)


# -- plot -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CHARTS)
def test_plot_draws_into_the_given_axes_and_returns_self(name, fixtures):
    make, panels = CHARTS[name]
    result = make(fixtures)
    figure = Figure()
    axes = figure.subplots(1, panels, squeeze=False)[0]
    given = axes[0] if panels == 1 else axes
    assert result.plot(ax=given) is result
    assert result.figure_ is figure
    if panels == 1:
        assert result.ax_ is axes[0]
    else:
        assert isinstance(result.ax_, np.ndarray) and list(result.ax_) == list(axes)
    assert all(_drawn(ax) > 0 for ax in axes)
    assert len(figure.axes) >= panels  # (a colour bar adds one)


@pytest.mark.parametrize("name", CHARTS)
def test_plot_without_axes_draws_on_a_new_figure_of_its_own(name, fixtures):
    make, panels = CHARTS[name]
    result = make(fixtures).plot()
    assert isinstance(result.figure_, Figure)
    axes = [result.ax_] if panels == 1 else list(result.ax_)
    assert len(axes) == panels and all(ax.figure is result.figure_ and _drawn(ax) > 0 for ax in axes)


def test_a_result_without_a_chart_plots_nothing(classification_eval, regression_eval, train_data):
    for result in (EvaluationResult(regression_eval), EvaluationResult({**classification_eval, "confusion_matrix": []}),
                   TrainResult(train_data), RegistryTable([]), DiffResult({"a": "m:1", "b": "m:2"})):
        assert result.plot() is result
        assert result.ax_ is None and result.figure_ is None and result.to_png() is None


def test_the_axes_must_match_the_panels(classification_eval, cv_data):
    figure = Figure()
    with pytest.raises(ValueError, match=r"2 panels: pass ax as a sequence of 2 Axes"):
        _binary(classification_eval).plot(ax=figure.add_subplot())
    with pytest.raises(ValueError, match="1 panel: pass ax as one Axes"):
        CVResult(cv_data).plot(ax=Figure().subplots(1, 2))


def test_plot_keywords_reach_the_drawing(classification_eval, regression_eval, cv_data):
    from matplotlib.colors import to_rgba

    evaluation = _binary(classification_eval).plot(cmap="Greens", curve_kwargs={"color": "red", "linewidth": 3})
    matrix, roc = evaluation.ax_
    assert matrix.images[0].get_cmap().name == "Greens"
    curve = roc.lines[0]
    assert to_rgba(curve.get_color()) == to_rgba("red") and curve.get_linewidth() == 3
    regression = _regression(regression_eval).plot(scatter_kwargs={"color": "black"}, line_kwargs={"color": "red"})
    for ax in regression.ax_:
        assert tuple(ax.collections[0].get_facecolor()[0][:3]) == (0.0, 0.0, 0.0)
        assert to_rgba(ax.lines[0].get_color())[:3] == to_rgba("red")[:3]
    bars = CVResult(cv_data).plot(color="red").ax_.patches
    assert len(bars) == 5 and all(bar.get_facecolor() == to_rgba("red") for bar in bars)
    with pytest.raises(TypeError, match="unexpected keyword argument.*'colour'"):
        _binary(classification_eval).plot(colour="red")


def test_the_png_shows_the_chart_alone_after_plotting_on_axes_of_yours(cv_data):
    own = CVResult(cv_data).to_png()
    result = CVResult(cv_data)
    dashboard = Figure(figsize=(12, 3))
    result.plot(ax=dashboard.subplots(1, 3)[1])
    assert result.to_png() == own  # the chart's own figure, not the dashboard
    assert result.figure_ is dashboard and len(dashboard.axes) == 3


def test_plotting_again_redraws_the_png(cv_data):
    result = CVResult(cv_data)
    first = result.to_png()
    result.plot(color="black")
    assert result.to_png() != first


def test_evaluation_charts_leave_pyplot_and_the_backend_alone():
    code = textwrap.dedent(
        """
        import numpy as np
        import matplotlib
        backend = matplotlib.rcParams._get_backend_or_none()
        from jupyter_modelservice.display import EvaluationResult
        y = np.array([0, 1] * 20)
        score = np.linspace(0, 1, 40)
        classification = EvaluationResult.from_predictions(y, (score > 0.5).astype(int), y_score=score)
        regression = EvaluationResult.from_predictions(score * 10, score * 10 + np.sin(score))
        assert classification.to_png().startswith(b"\\x89PNG") and regression.to_png().startswith(b"\\x89PNG")
        import matplotlib.pyplot as plt
        assert plt.get_fignums() == [], plt.get_fignums()
        assert matplotlib.rcParams._get_backend_or_none() == backend
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- from_predictions ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def binary_split():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    X, y = load_breast_cancer(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def _same_evaluation(a: EvaluationResult, b: EvaluationResult) -> None:
    pd.testing.assert_frame_equal(a.frame(), b.frame())
    if a.task_type == "classification":
        pd.testing.assert_frame_equal(a.frame("confusion_matrix"), b.frame("confusion_matrix"))
        pd.testing.assert_frame_equal(a.frame("report"), b.frame("report"))
    assert a.to_text() == b.to_text()
    assert a.to_png() == b.to_png()


def test_from_predictions_equals_the_services_evaluation_of_a_classifier(service, binary_split):
    from sklearn.linear_model import LogisticRegression

    X_train, X_test, y_train, y_test = binary_split
    trained = service.train_model(LogisticRegression, X_train, y_train, model_id="logreg", max_iter=5000)
    data = service.evaluate_model(X_test, y_test, model_id="logreg", return_predictions=True)
    through_service = EvaluationResult.from_evaluation(data, y_test)
    predictions = data["predictions"]
    assert predictions["y_score"].shape == (len(y_test), 2)

    direct = EvaluationResult.from_predictions(
        y_test, predictions["y_pred"], y_score=predictions["y_score"], classes=predictions["classes"],
        model_id="logreg", version=trained["version"], model_class="LogisticRegression")
    _same_evaluation(direct, through_service)
    assert direct.frame().loc["logreg:1", "accuracy"] == pytest.approx(data["accuracy"])
    assert direct.frame().loc["logreg:1", "roc_auc"] == pytest.approx(data["roc_auc"])
    assert direct.frame("confusion_matrix").to_numpy().tolist() == data["confusion_matrix"]
    assert direct.pos_label == 1 and np.array_equal(direct.y_score, predictions["y_score"][:, 1])
    assert direct.plot().ax_[1].lines[0].get_label() == f"AUC = {data['roc_auc']:.3f}"

    # As in scikit-learn: the positive class's score alone, the classes found in the labels.
    positive = EvaluationResult.from_predictions(y_test, predictions["y_pred"], y_score=predictions["y_score"][:, 1],
                                                 model_id="logreg", version=1, model_class="LogisticRegression")
    _same_evaluation(positive, through_service)


def test_from_predictions_equals_the_services_evaluation_of_a_regressor(service, diabetes):
    from sklearn.linear_model import Ridge

    X, y = diabetes
    service.train_model(Ridge, X[:300], y[:300], model_id="ridge")
    data = service.evaluate_model(X[300:], y[300:], model_id="ridge", return_predictions=True)
    direct = EvaluationResult.from_predictions(y[300:], data["predictions"]["y_pred"], model_id="ridge", version=1,
                                               model_class="Ridge")
    assert direct.task_type == "regression"  # inferred from the continuous target
    _same_evaluation(direct, EvaluationResult.from_evaluation(data, y[300:]))
    assert direct.frame().loc["ridge:1", "rmse"] == pytest.approx(data["rmse"])


def test_from_predictions_of_a_multiclass_problem(iris):
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    model = LogisticRegression(max_iter=1000).fit(X, y)
    result = EvaluationResult.from_predictions(y, model.predict(X), y_score=model.predict_proba(X))
    assert result.frame("confusion_matrix").to_numpy().trace() == (model.predict(X) == y).sum()
    assert result.frame().loc["model", "roc_auc"] > 0.9
    assert result._panels() == 1  # no ROC curve for three classes
    with pytest.raises(ValueError, match="1-d y_score is the score of the positive class of a binary problem"):
        EvaluationResult.from_predictions(y, model.predict(X), y_score=model.predict_proba(X)[:, 1])


def test_from_estimator_predicts_then_evaluates(binary_split):
    from sklearn.tree import DecisionTreeClassifier

    X_train, X_test, y_train, y_test = binary_split
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X_train, y_train)
    from_estimator = EvaluationResult.from_estimator(tree, X_test, y_test, model_id="tree", version=2)
    from_predictions = EvaluationResult.from_predictions(
        y_test, tree.predict(X_test), y_score=tree.predict_proba(X_test), classes=list(tree.classes_),
        model_id="tree", version=2, model_class="DecisionTreeClassifier")
    _same_evaluation(from_estimator, from_predictions)


# -- frame ------------------------------------------------------------------------------


def test_evaluation_frames(classification_eval, regression_eval):
    result = EvaluationResult(classification_eval)
    metrics = result.frame()
    assert metrics.index.tolist() == ["rf:1"] and metrics.loc["rf:1"].to_dict() == {
        "accuracy": 0.91, "precision": 0.9123, "recall": 0.91, "f1_score": 0.9099, "roc_auc": 0.9712}
    matrix = result.frame("confusion_matrix")
    assert matrix.to_numpy().tolist() == [[46, 4], [5, 45]]
    assert (matrix.index.name, matrix.columns.name) == ("true", "predicted")
    report = result.frame("report")
    assert report.index.tolist() == ["0", "1", "macro avg"]
    assert report.loc["1"].tolist() == [0.92, 0.9, 0.91, 50]
    regression = EvaluationResult(regression_eval)
    assert regression.frame().loc["ridge:3", "rmse"] == 53.85
    with pytest.raises(ValueError, match="no confusion matrix: only a classification"):
        regression.frame("confusion_matrix")
    with pytest.raises(ValueError, match="choose 'metrics', 'confusion_matrix' or 'report'"):
        result.frame("roc")


def test_train_and_cv_frames(train_data, cv_data):
    cv = CVResult(cv_data)
    assert cv.frame()["accuracy"].tolist() == cv_data["cv_scores"]
    assert cv.frame()["fit_time"].tolist() == cv_data["fit_time"]
    train = TrainResult(train_data, cv).frame()
    assert train.index.tolist() == ["rf:2"]
    row = train.loc["rf:2"]
    assert (row["model_class"], row["validation_score"], row["training_samples"], row["status"]) == (
        "RandomForestClassifier", 0.956140350877193, 455, "saved")


def test_comparison_frames_are_copies_in_ranking_order():
    result = _comparison("classification")
    frame = result.frame()
    assert frame["model_id"].tolist() == ["a", "b"] and frame["accuracy"].tolist() == [0.9, 0.8]
    frame.loc[0, "accuracy"] = 0.0
    assert result.frame().loc[0, "accuracy"] == 0.9 and result.best == "a:1"
    cv = _cv_comparison().frame()
    assert cv["mean_score"].tolist() == [0.9, 0.8] and cv.attrs["test"] == "corrected resampled t-test"


def test_importance_registry_config_diff_and_reproduction_frames():
    importance = ImportanceResult({"a": 0.5, "b": -0.2, "c": 0.1}, top=2).frame()
    assert importance.to_dict(orient="list") == {"feature": ["a", "b", "c"], "importance": [0.5, -0.2, 0.1]}

    table = RegistryTable([{"model_id": "rf", "version": 2, "status": "saved"}]).frame()
    assert table.to_dict(orient="records") == [{"model_id": "rf", "version": 2, "status": "saved"}]

    config = ServiceConfig({"db_type": "sqlite", "db_url": None, "models_directory": "/m"}).frame()
    assert config.to_dict(orient="records") == [{"db_type": "sqlite", "db_url": None, "models_directory": "/m"}]

    diff = DiffResult({"a": "p:1", "b": "p:2", "params": [("C", 1.0, 0.1)], "environment": [("numpy", "1", "2")]})
    frame = diff.frame()
    assert frame.to_dict(orient="records") == [
        {"section": "Parameters", "name": "C", "a": 1.0, "b": 0.1},
        {"section": "Library versions", "name": "numpy", "a": "1", "b": "2"}]
    assert frame.attrs == {"a": "p:1", "b": "p:2"}
    assert DiffResult({"a": "p:1", "b": "p:2"}).frame().empty

    reproduced = ReproductionResult({"ref": "m:1", "data_matches": True, "data_differences": [],
                                     "outcome": "identical", "n_rows": 50, "n_different": 0,
                                     "max_abs_diff": 0.0}).frame()
    assert reproduced.loc["m:1"].to_dict() == {"data_matches": True, "outcome": "identical", "n_rows": 50,
                                               "n_different": 0, "max_abs_diff": 0.0}


def test_class_labels_in_the_delegated_charts_stay_literal(classification_eval):
    data = {**classification_eval, "labels": ["$x$", "b"]}
    result = EvaluationResult(data, y_true=np.array(["$x$", "b"] * 10), y_score=np.linspace(0, 1, 20),
                              pos_label="$x$").plot()
    matrix, roc = result.ax_
    assert [t.get_text() for t in matrix.get_yticklabels()] == [plain_text("$x$"), "b"]
    assert plain_text("$x$") in roc.get_ylabel()
    assert png_bytes(result._repr_mimebundle_())


def test_from_predictions_takes_an_estimators_classes_array(binary_split):
    from sklearn.linear_model import LogisticRegression

    X_train, X_test, y_train, y_test = binary_split
    model = LogisticRegression(max_iter=5000).fit(X_train, y_train)
    score = model.predict_proba(X_test)
    as_array = EvaluationResult.from_predictions(y_test, model.predict(X_test), y_score=score,
                                                 classes=model.classes_)  # a NumPy array, as sklearn keeps it
    as_list = EvaluationResult.from_predictions(y_test, model.predict(X_test), y_score=score,
                                                classes=list(model.classes_))
    _same_evaluation(as_array, as_list)
