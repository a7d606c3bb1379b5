"""Bad input gives a one-paragraph UsageError that says what to do, not a deep traceback."""

from __future__ import annotations

import re

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from jupyter_modelservice import ModelServiceError


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("RandomForestClassifer X_train y_train", r"Unknown model 'RandomForestClassifer'.*Did you mean RandomForestClassifier"),
        ("NoSuchModel X_train y_train", r"Unknown model 'NoSuchModel'.*dotted path"),
        ("nosuchlib.Model X_train y_train", r"Cannot import 'nosuchlib'"),
        ("sklearn.linear_model.NoSuchModel X_train y_train", r"has no 'NoSuchModel'"),
        ("not_a_model X_train y_train", r"holds a int, not an estimator"),
        ("GaussianNB X_trian y_train", r"No variable named 'X_trian' \(for X\).*Did you mean 'X_train'"),
        ("GaussianNB X_train y_missing", r"No variable named 'y_missing' \(for y\)"),
        ("GaussianNB X_train[:, y_train", r"Could not evaluate 'X_train\[:,' \(for X\)"),
        ("GaussianNB X_train y_train var_smoothing", r"Expected %train MODEL X y"),
        ("GaussianNB X_train y_train var_smoothing=tiny", r"Bad value in 'var_smoothing=tiny'.*quote text"),
        ("GaussianNB X_train y_train 1x=2", r"Expected %train MODEL X y"),
        ("GaussianNB X_train y_train a=1 a=2", r"Parameter 'a' is given twice"),
        ("GaussianNB X_train y_train model_id=x", r"model_id= cannot be given as key=value: use the option --id"),
        ("GaussianNB X_train", r"y is missing: %train takes MODEL X y .*got GaussianNB X_train.*\nusage: %train"),
        ("X_train y_train", r"The model is missing: %train takes MODEL X y .*\nusage: %train MODEL X y"),
        ("GaussianNB X_train y_train --scoring f1", r"--scoring applies to cross-validation"),
        ("GaussianNB X_train y_train -o 1bad", r"-o needs a variable name"),
        ("GaussianNB X_train y_train --format zip", r"invalid choice: 'zip'"),
    ],
)
def test_train_input_errors(classification_data, line, message):
    classification_data.user_ns["not_a_model"] = 3
    with pytest.raises(UsageError, match=message):
        classification_data.run_line_magic("train", line)


def test_errors_of_the_service_become_usage_errors_chained_from_the_original(classification_data):
    classification_data.user_ns["y_short"] = classification_data.user_ns["y_train"][:10]
    # the message names the user's variables, not the service's parameters X and y
    with pytest.raises(UsageError, match=r"Training failed: X_train has \d+ rows but y_short has 10") as info:
        classification_data.run_line_magic("train", "GaussianNB X_train y_short")
    assert isinstance(info.value.__cause__, ModelServiceError)


def test_a_bad_estimator_parameter(classification_data):
    with pytest.raises(UsageError, match="n_estimator"):
        classification_data.run_line_magic("train", "RandomForestClassifier X_train y_train n_estimator=5")


def test_unknown_refs(classification_data):
    shell = classification_data
    shell.run_line_magic("train", "GaussianNB X_train y_train --id nb -q")
    with pytest.raises(UsageError, match=r"Cannot evaluate nope: .*nope.*%models lists"):
        shell.run_line_magic("evaluate", "nope X_test y_test")
    with pytest.raises(UsageError, match=r"Cannot evaluate nb:7: .*version 7"):
        shell.run_line_magic("evaluate", "nb:7 X_test y_test")
    with pytest.raises(UsageError, match=r"Cannot evaluate nb:x"):
        shell.run_line_magic("evaluate", "nb:x X_test y_test")
    with pytest.raises(UsageError, match=r"Cannot compare: .*nope"):
        shell.run_line_magic("compare", "nb nope X_test y_test")
    with pytest.raises(UsageError, match=r"Cannot compute the importances of ghost"):
        shell.run_line_magic("importance", "ghost")
    with pytest.raises(UsageError, match=r"No variable named 'X_tst'"):
        shell.run_line_magic("evaluate", "nb X_tst y_test")


def test_compare_errors(classification_data, regression_data):
    shell = classification_data
    shell.run_line_magic("train", "GaussianNB X_train y_train --id nb -q")
    shell.run_line_magic("train", "Ridge Xr_train yr_train --id ridge -q")
    with pytest.raises(UsageError, match="Cannot compare classification and regression"):
        shell.run_line_magic("compare", "nb ridge X_test y_test")
    with pytest.raises(UsageError, match="Cannot sort by 'rmse': choose one of accuracy"):
        shell.run_line_magic("compare", "nb X_test y_test --sort rmse")
    with pytest.raises(UsageError, match="Cannot sort by 'acuracy'"):
        shell.run_line_magic("compare", "nb X_test y_test --sort acuracy")
    with pytest.raises(UsageError, match=r"The model ids are missing: %compare takes REF \[REF ...\] X_test y_test"):
        shell.run_line_magic("compare", "X_test y_test")


def test_cell_errors(classification_data):
    shell = classification_data
    with pytest.raises(UsageError, match="The cell raised NameError"):
        shell.run_cell_magic("train", "X_train y_train", "undefined_function()")
    with pytest.raises(UsageError, match="must end with an expression"):
        shell.run_cell_magic("train", "X_train y_train", "model = 1")
    with pytest.raises(UsageError, match="not valid Python"):
        shell.run_cell_magic("train", "X_train y_train", "make_pipeline(")
    with pytest.raises(UsageError, match=r"Expected %%train X y"):
        shell.run_cell_magic("train", "GaussianNB X_train y_train", "1")


def test_in_a_cell_the_error_is_one_paragraph_without_traceback(classification_data):
    with capture_output() as cap:
        result = classification_data.run_cell("%train RandomForestClassifer X_train y_train")
    assert not result.success
    assert isinstance(result.error_in_exec, UsageError)
    assert "UsageError: Unknown model 'RandomForestClassifer'" in cap.stderr
    assert "Traceback" not in cap.stderr and "Traceback" not in cap.stdout


@pytest.mark.parametrize("item", ["a=1), b=(2", "a=1), **x, c=(2", "a=1))+_((2", "a=(1"])
def test_a_value_that_reaches_past_its_own_pair_is_a_usage_error_naming_it(item):
    from jupyter_modelservice.notebook.resolve import parse_params

    with pytest.raises(UsageError, match=re.escape(f"Bad value in {item!r}")):
        parse_params(["n_estimators=10", item], {})
