"""The user's mistakes in magic lines: what is missing, close names, the user's own variable names, help."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError


@pytest.fixture
def trained(classification_data):
    for line in ("LogisticRegression X_train y_train --id logreg max_iter=5000 -q",
                 "GaussianNB X_train y_train --id nb -q"):
        classification_data.run_line_magic("train", line)
    return classification_data


def test_a_forgotten_model_id_is_named_with_the_usage_line(trained):
    with pytest.raises(UsageError) as info:
        trained.run_line_magic("evaluate", "X_test y_test")
    message = str(info.value)
    assert message.startswith("The model id is missing: %evaluate takes REF X_test y_test (got X_test y_test).")
    assert "\nusage: %evaluate " in message and "the following arguments" not in message
    with pytest.raises(UsageError, match=r"^The model id is missing: %importance takes REF \(got nothing\)"):
        trained.run_line_magic("importance", "")
    with pytest.raises(UsageError, match=r"^The model ids are missing: %compare takes REF \[REF ...\] X_test y_test"):
        trained.run_line_magic("compare", "X_test y_test")


@pytest.mark.parametrize(("magic", "line"), [("evaluate", "logreeg X_test y_test"),
                                             ("compare", "nb logreeg X_test y_test"),
                                             ("compare", "--cv nb logreeg"),
                                             ("importance", "logreeg"),
                                             ("diff", "nb logreeg"),
                                             ("reproduce", "logreeg X_train y_train"),
                                             ("train", "--from logreeg X_train y_train"),
                                             ("promote", "logreeg"),
                                             ("rollback", "logreeg")])
def test_a_mistyped_model_id_gets_did_you_mean(trained, magic, line):
    with pytest.raises(UsageError, match=r"No model 'logreeg' in the registry.*Did you mean 'logreg'( for 'logreeg')?\?"):
        trained.run_line_magic(magic, line)


def test_an_unknown_id_with_nothing_close_points_at_models(trained):
    with pytest.raises(UsageError, match=r"No model 'zzz'.*%models lists the registered models"):
        trained.run_line_magic("evaluate", "zzz X_test y_test")


def test_an_error_does_not_repeat_what_failed(trained, regression_data):
    regression_data.run_line_magic("train", "Ridge Xr_train yr_train --id ridge -q")
    with pytest.raises(UsageError) as info:
        trained.run_line_magic("compare", "nb ridge X_test y_test")
    assert str(info.value).startswith("Cannot compare classification and regression")
    assert "Cannot compare: Cannot compare" not in str(info.value)


def test_errors_about_the_data_name_the_users_variables(trained):
    trained.user_ns["X_small"] = trained.user_ns["X_test"].iloc[:, :5]
    with pytest.raises(UsageError) as info:
        trained.run_line_magic("evaluate", "logreg X_small y_test")
    message = str(info.value)
    assert "X_small" in message and "X_test" not in message
    trained.user_ns["y_few"] = trained.user_ns["y_test"][:7]
    with pytest.raises(UsageError, match=r"X_test has \d+ rows but y_few has 7") as info:
        trained.run_line_magic("compare", "logreg nb X_test y_few")


def test_a_mistyped_estimator_parameter_gets_the_right_name(classification_data):
    with pytest.raises(UsageError) as info:
        classification_data.run_line_magic("train", "RandomForestClassifier X_train y_train n_estimator=100")
    message = str(info.value)
    assert message.startswith("RandomForestClassifier has no parameter 'n_estimator'; did you mean n_estimators?")
    assert "__init__() got an unexpected keyword" not in message
    with pytest.raises(UsageError, match=r"Pipeline has no parameter 'logisticregresion__C'; did you mean "
                                         r"logisticregression__C( or \w+)?\?"):
        classification_data.run_cell_magic(
            "train", "X_train y_train logisticregresion__C=0.5",
            "from sklearn.pipeline import make_pipeline\nfrom sklearn.preprocessing import StandardScaler\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "make_pipeline(StandardScaler(), LogisticRegression())")
    service = classification_data.magics_manager.registry["ModelServiceMagics"].service
    assert service.list_models() == []  # refused before anything was trained


@pytest.mark.parametrize("option", ["--folds", "--cv"])
def test_one_name_for_the_folds_in_train_and_cv(classification_data, option):
    shell = classification_data
    trained = shell.run_line_magic("train", f"GaussianNB X_train y_train --id nb {option} 3 -q")
    assert trained.cv is not None and trained.cv.n_folds == 3
    cv = shell.run_line_magic("cv", f"GaussianNB X_train y_train {option} 4 -q")
    assert cv.n_folds == 4


@pytest.mark.parametrize("magic", ["train", "cv"])
def test_help_names_the_positional_arguments_and_has_no_rest_markup(shell, magic):
    text = shell.find_line_magic(magic).__doc__
    assert text.startswith(f"usage: %{magic} MODEL X y [options] [key=value ...]\n       %%{magic} X y")
    assert "::" not in text and "ARG" not in text
    positional = text.split("positional arguments:", 1)[1].split("options:", 1)[0]
    names = [line.split()[0] for line in positional.splitlines() if line.startswith("  ") and line[2] != " "]
    assert names == ["MODEL", "X", "y", "key=value"]
    assert "--folds K, --cv K" in text


def test_every_magic_help_starts_with_its_usage(shell):
    for name in ("evaluate", "compare", "importance", "models", "ms_config", "train", "cv", "diff"):
        text = shell.find_line_magic(name).__doc__
        assert text.startswith(f"usage: %{name}"), name
        assert not text.startswith("::")
