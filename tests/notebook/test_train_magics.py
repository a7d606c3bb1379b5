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
    assert by_path.data["model_id"].startswith("GaussianNB_")  # generated id


def test_quiet_and_output_variable(classification_data, run):
    result, cap = run(classification_data, "train",
                      "GaussianNB X_train y_train --id nb -q -o nb_result")
    assert cap.outputs == []
    assert classification_data.user_ns["nb_result"] is result


def test_a_magic_on_the_last_line_is_displayed_once(classification_data):
    from IPython.utils.capture import capture_output

    with capture_output() as cap:
        res = classification_data.run_cell("%train GaussianNB X_train y_train --id nb")
    assert res.success
    assert len(cap.outputs) == 1
    assert "Trained" not in cap.stdout  # the displayhook did not echo the returned result
    assert isinstance(res.result, TrainResult)
    # Once the cell is over, the result displays normally again.
    with capture_output() as cap:
        classification_data.run_cell("_")
    assert "Trained nb:1" in cap.stdout


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
