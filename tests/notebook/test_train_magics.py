"""%train, %%train and %cv through a real IPython shell."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_modelservice.display import CVResult, TrainResult

from ..display.checks import html_image, png_bytes


def test_train_saves_and_displays_the_scores(classification_data, run, tmp_path):
    result, cap = run(classification_data, "train",
                      "RandomForestClassifier X_train y_train --id rf n_estimators=10 random_state=0")
    assert isinstance(result, TrainResult)
    assert len(cap.outputs) == 1
    bundle = cap.outputs[0].data
    assert set(bundle) == {"text/plain", "text/html"}
    html = bundle["text/html"]
    assert "<code>rf</code>" in html and "version 1" in html
    assert f"{result.data['validation_score']:.4f}" in html
    assert "saved (joblib)" in html
    assert result.data["model_params"]["n_estimators"] == 10
    assert (tmp_path / "models" / "rf" / "v1.joblib").is_file()
    assert "Trained rf:1: RandomForestClassifier (classification)" in bundle["text/plain"]


def test_training_an_existing_id_adds_a_version(classification_data, run, tmp_path):
    run(classification_data, "train", "LogisticRegression X_train y_train --id lr -q solver='liblinear'")
    result, _ = run(classification_data, "train",
                    "LogisticRegression X_train y_train --id lr --format pickle -q C=0.5 solver='liblinear'")
    assert result.ref == "lr:2"
    assert result.data["file_format"] == "pickle"
    assert (tmp_path / "models" / "lr" / "v2.pkl").is_file()


def test_no_save_registers_without_a_file(classification_data, run, tmp_path):
    result, cap = run(classification_data, "train",
                      "DecisionTreeClassifier X_train y_train --id tree --no-save --validation-split 0 "
                      "max_depth=2 random_state=0")
    assert result.data["status"] == "trained"
    assert result.data["validation_score"] is None
    assert not (tmp_path / "models" / "tree").exists()
    assert "trained" in cap.outputs[0].data["text/html"]


def test_train_with_cv_shows_folds_and_chart(classification_data, run):
    result, cap = run(classification_data, "train",
                      "LogisticRegression X_train y_train --id lr --cv 3 --scoring accuracy,f1 "
                      "solver='liblinear'")
    assert isinstance(result.cv, CVResult) and result.cv.n_folds == 3
    bundle = cap.outputs[-1].data
    png = png_bytes(bundle)
    assert html_image(bundle["text/html"]) == png
    assert "3-fold cross-validation of LogisticRegression" in bundle["text/html"]
    assert list(result.cv.scores) == ["accuracy", "f1"]
    # Text progress in a terminal shell, ending as a one-line summary.
    assert "Cross-validation · 3/3 folds · accuracy" in cap.stdout
    # The fold scores are recorded on the trained version.
    row = classification_data.magics_manager.registry["ModelServiceMagics"].service.get_model_metadata("lr:1")
    assert row["cv_scores"]["cv_scores"] == result.cv.data["cv_scores"]


def test_cell_form_trains_the_built_estimator(classification_data, run):
    cell = (
        "from sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import StandardScaler\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "make_pipeline(StandardScaler(), LogisticRegression(C=c_value))\n"
    )
    classification_data.user_ns["c_value"] = 0.3
    result, cap = run(classification_data, "train", "X_train y_train --id pipe", cell)
    assert result.data["model_class"] == "Pipeline"
    assert "Pipeline" in cap.outputs[0].data["text/html"]
    assert "make_pipeline" in classification_data.user_ns  # the cell ran in the notebook namespace


def test_cell_bodies_are_ipython_code(classification_data, run):
    """A %%train / %%cv body goes through IPython's input transformation: shell escapes and line
    magics work in it, also on the line that builds the estimator."""
    cell = (
        "from sklearn.tree import DecisionTreeClassifier\n"
        "depth = !echo 2\n"
        "names = %who_ls\n"
        "DecisionTreeClassifier(max_depth=int(depth[0]), random_state=0)\n"
    )
    result, _ = run(classification_data, "train", "X_train y_train --id tree -q", cell)
    assert result.data["model_params"]["max_depth"] == 2
    assert classification_data.user_ns["depth"] == ["2"] and "X_train" in classification_data.user_ns["names"]
    cv, cap = run(classification_data, "cv", "X_train y_train --folds 3 -q",
                  "%time DecisionTreeClassifier(max_depth=1, random_state=0)\n")
    assert cv.n_folds == 3 and "Wall time" in cap.stdout


def test_model_from_a_variable_a_dotted_path_and_params_from_variables(classification_data, run):
    from sklearn.tree import DecisionTreeClassifier

    ns = classification_data.user_ns
    ns.update(Tree=DecisionTreeClassifier, depth=3, unfitted=DecisionTreeClassifier(max_depth=1))
    by_class, _ = run(classification_data, "train", "Tree X_train y_train -q max_depth=depth")
    assert by_class.data["model_params"]["max_depth"] == 3
    by_instance, _ = run(classification_data, "train", "unfitted X_train y_train -q random_state=0")
    assert by_instance.data["model_params"]["max_depth"] == 1
    by_path, _ = run(classification_data, "train",
                     "sklearn.naive_bayes.GaussianNB X_train y_train -q var_smoothing=1e-8")
    assert by_path.data["model_class"] == "GaussianNB"
    assert by_path.data["model_id"] == "gaussiannb-1"  # generated id


def test_quiet_and_output_variable(classification_data, run):
    result, cap = run(classification_data, "train",
                      "GaussianNB X_train y_train --id nb -q -o nb_result")
    assert cap.outputs == []
    assert classification_data.user_ns["nb_result"] is result


def test_cv_does_not_register_anything(classification_data, run, tmp_path):
    result, cap = run(classification_data, "cv",
                      "RandomForestClassifier X_train y_train --folds 4 n_estimators=5 random_state=0")
    assert isinstance(result, CVResult) and result.n_folds == 4
    html = cap.outputs[-1].data["text/html"]
    assert "4-fold cross-validation of RandomForestClassifier" in html
    assert f"{result.data['mean_score']:.4f}" in html
    png_bytes(cap.outputs[-1].data)
    assert "Cross-validation · 4/4 folds" in cap.stdout
    service = classification_data.magics_manager.registry["ModelServiceMagics"].service
    assert service.list_models() == []


def test_cv_cell_form(regression_data, run):
    result, _ = run(regression_data, "cv", "Xr_train yr_train --folds 3 --scoring r2 -q",
                    "from sklearn.linear_model import Ridge\nRidge(alpha=0.5)")
    assert result.data["scoring"] == "r2" and len(result.data["cv_scores"]) == 3


def test_the_registry_defaults_to_models_in_the_working_folder(classification_data, run, tmp_path):
    run(classification_data, "train", "GaussianNB X_train y_train --id nb -q")
    assert Path("models/registry.db").is_file()
    assert (tmp_path / "models" / "nb").is_dir()


@pytest.mark.parametrize("fmt", ["pickle", "skops"])
def test_save_formats(classification_data, run, tmp_path, fmt):
    result, _ = run(classification_data, "train", f"GaussianNB X_train y_train --id nb --format {fmt} -q")
    assert result.data["file_format"] == fmt


# -- nothing half-done, and what the card shows first ------------------------------------------------------

INTERRUPTING = '''
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.naive_bayes import GaussianNB

class StopsOnFit(ClassifierMixin, BaseEstimator):
    """Raises KeyboardInterrupt (what a kernel interrupt raises) on fit number ``at``."""
    calls = 0

    def __init__(self, at=3):
        self.at = at

    def fit(self, X, y):
        type(self).calls += 1
        if type(self).calls == self.at:
            raise KeyboardInterrupt
        self.model_ = GaussianNB().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)
'''


def _service(shell):
    return shell.magics_manager.registry["ModelServiceMagics"].service


@pytest.mark.parametrize(("at", "where"), [(1, "Interrupted while training"),
                                           (3, "Interrupted during cross-validation (1 of 5 folds done)")])
def test_an_interrupt_leaves_nothing_and_says_so_in_one_line(classification_data, tmp_path, at, where):
    from IPython.utils.capture import capture_output

    from jupyter_modelservice.notebook.interrupts import MagicInterrupted

    shell = classification_data
    shell.run_cell(INTERRUPTING)
    with capture_output() as cap:
        result = shell.run_cell(f"%train StopsOnFit X_train y_train --id stop --folds 5 at={at}")
    assert isinstance(result.error_in_exec, MagicInterrupted)
    assert isinstance(result.error_in_exec, KeyboardInterrupt)  # still an interrupt: Run All stops here
    assert str(result.error_in_exec) == f"{where}; nothing was saved."
    assert "Traceback" not in cap.stdout + cap.stderr
    assert _service(shell).list_models() == []
    folder = tmp_path / "models" / "stop"
    assert not folder.exists() or not any(folder.iterdir())


def test_an_interrupt_after_saving_says_what_was_saved(classification_data, monkeypatch):
    from jupyter_modelservice.display import TrainResult as Shown
    from jupyter_modelservice.notebook import training_magics
    from jupyter_modelservice.notebook.interrupts import MagicInterrupted

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training_magics, "TrainResult", interrupted)
    with pytest.raises(MagicInterrupted, match=r"^Interrupted after training; nb:1 was saved\.$"):
        classification_data.run_line_magic("train", "GaussianNB X_train y_train --id nb")
    assert _service(classification_data).get_model_metadata("nb:1")["status"] == "saved"
    assert Shown is not interrupted


def test_a_failed_cross_validation_keeps_no_version(classification_data):
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match=r"Unknown scoring 'acuracy'.*\(nothing was saved\.\)$"):
        classification_data.run_line_magic("train", "GaussianNB X_train y_train --id nb --folds 3 --scoring acuracy")
    assert _service(classification_data).list_models() == []


def test_the_cross_validation_is_recorded_before_the_version_is_saved(classification_data, tmp_path):
    import json

    result = classification_data.run_line_magic("train", "GaussianNB X_train y_train --id nb --folds 3 -q")
    sidecar = json.loads((tmp_path / "models" / "nb" / "v1.json").read_text())
    assert sidecar["cv_scores"]["cv_folds"] == 3  # the file written at save time holds the CV
    assert result.data["status"] == "saved"


def test_the_card_shows_the_parameters_set_first(classification_data, run):
    result, cap = run(classification_data, "train",
                      "RandomForestClassifier X_train y_train --id rf n_estimators=20 max_depth=4 random_state=0")
    assert result.changed_params() == {"max_depth": "4", "n_estimators": "20", "random_state": "0"}
    html = cap.outputs[0].data["text/html"]
    assert "Parameters set (3)" in html and "parameters at their defaults</summary>" in html
    cell = classification_data.run_cell_magic(
        "train", "X_train y_train --id pipe -q",
        "from sklearn.pipeline import make_pipeline\nfrom sklearn.preprocessing import StandardScaler\n"
        "from sklearn.linear_model import LogisticRegression\nmake_pipeline(StandardScaler(), LogisticRegression())")
    assert list(cell.changed_params()) == ["steps"]  # a pipeline's steps have no default


def test_an_interrupt_after_a_no_save_training_keeps_the_version(classification_data, monkeypatch):
    from jupyter_modelservice.notebook import training_magics
    from jupyter_modelservice.notebook.interrupts import MagicInterrupted

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training_magics, "TrainResult", interrupted)
    with pytest.raises(MagicInterrupted, match=r"^Interrupted after training; nb:1 was registered \(--no-save\)\.$"):
        classification_data.run_line_magic("train", "GaussianNB X_train y_train --id nb --no-save")
    assert _service(classification_data).get_model_metadata("nb:1")["status"] == "trained"


def test_train_from_a_version_retrains_its_class_and_parameters_with_it_as_parent(classification_data, run,
                                                                                  tmp_path):
    from jupyter_modelservice import ModelService

    ns = classification_data.user_ns
    run(classification_data, "train", "RandomForestClassifier X_train y_train --id rf -q n_estimators=7 "
                                      "max_depth=3 random_state=1")
    ns["X_new"], ns["y_new"] = ns["X_test"], ns["y_test"]
    result, _ = run(classification_data, "train", "--from rf:1 X_new y_new -q max_depth=4")
    assert result.ref == "rf:2"
    params = result.data["model_params"]
    assert (params["n_estimators"], params["max_depth"], params["random_state"]) == (7, 4, 1)
    assert result.data["training_samples"] + result.data["validation_samples"] == len(ns["y_new"])
    other, _ = run(classification_data, "train", "--from rf X_new y_new --id rf_copy -q")
    assert other.ref == "rf_copy:1" and other.data["model_params"]["max_depth"] == 4  # rf = rf:2
    with ModelService(models_directory=tmp_path / "models") as service:
        assert service.lineage("rf_copy") == ["rf_copy:1", "rf:2", "rf:1"]


@pytest.mark.parametrize("line, cell, says", [
    ("--from rf:1 X_train", None, "Expected %train --from rf:1 X y"),
    ("--from nothing:1 X_train y_train", None, "Cannot retrain nothing:1"),
    ("--from rf:1 X_train y_train", "make_pipeline()", "without a cell body"),
])
def test_train_from_mistakes(classification_data, run, line, cell, says):
    from IPython.core.error import UsageError

    run(classification_data, "train", "DecisionTreeClassifier X_train y_train --id rf -q random_state=0")
    with pytest.raises(UsageError, match=says):
        run(classification_data, "train", line, cell)


STOPS_ON_PREDICT = '''
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.naive_bayes import GaussianNB

class StopsOnPredict(ClassifierMixin, BaseEstimator):
    """Fits like GaussianNB; predicting raises KeyboardInterrupt once ``armed`` (a kernel interrupt)."""
    armed = False

    def fit(self, X, y):
        self.model_ = GaussianNB().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        if type(self).armed:
            raise KeyboardInterrupt
        return self.model_.predict(X)

    def predict_proba(self, X):
        if type(self).armed:
            raise KeyboardInterrupt
        return self.model_.predict_proba(X)
'''


@pytest.mark.parametrize(("line", "where"), [
    ("evaluate stop X_test y_test", "Interrupted while evaluating stop"),
    ("importance stop --permutation X_test y_test", "Interrupted while computing the importances of stop"),
    ("diff stop nb X_test y_test", "Interrupted while comparing stop and nb"),
    ("reproduce stop X_train y_train", "Interrupted while reproducing stop"),
])
def test_an_interrupt_while_predicting_says_one_line_and_records_nothing(classification_data, line, where):
    from IPython.utils.capture import capture_output

    from jupyter_modelservice.notebook.interrupts import MagicInterrupted

    shell = classification_data
    shell.run_cell(STOPS_ON_PREDICT)
    shell.run_line_magic("train", "StopsOnPredict X_train y_train --id stop -q --no-save")
    shell.run_line_magic("train", "GaussianNB X_train y_train --id nb -q")
    shell.run_cell("StopsOnPredict.armed = True")
    history = _service(shell).model_history("stop")
    with capture_output() as cap:
        result = shell.run_cell(f"%{line}")
    assert isinstance(result.error_in_exec, MagicInterrupted)
    assert str(result.error_in_exec) == f"{where}; no partial result was recorded."
    assert "Traceback" not in cap.stdout + cap.stderr
    assert _service(shell).evaluations("stop") == [] and _service(shell).model_history("stop") == history


def test_quiet_shows_no_progress_either(classification_data, run):
    result, cap = run(classification_data, "train", "GaussianNB X_train y_train --id nb --folds 3 -q")
    assert len(result.cv.data["cv_scores"]) == 3
    assert cap.stdout == "" and cap.outputs == []
    result, cap = run(classification_data, "cv", "GaussianNB X_train y_train --folds 3 -q")
    assert cap.stdout == "" and cap.outputs == [] and len(result.data["cv_scores"]) == 3
    result, cap = run(classification_data, "compare", "nb X_test y_test -q")
    assert cap.stdout == "" and cap.outputs == [] and result.to_text().startswith("Comparison of 1 model,")
