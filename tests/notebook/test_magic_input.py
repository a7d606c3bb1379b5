"""What the magics accept on their line: secrets never echoed, quotes and -o names."""

from __future__ import annotations

import json

import pytest
from IPython.core.error import UsageError

from tests.conftest import free_port
from tests.test_redaction import FORMS, IDS, assert_no_secret


# -- secrets -------------------------------------------------------------------------
@pytest.mark.parametrize("url", [u for u, _ in FORMS], ids=IDS)
def test_ms_config_errors_show_no_secret(shell, run, url):
    url = url.format(host=f"127.0.0.1:{free_port()}")
    with pytest.raises(UsageError) as caught:
        run(shell, "ms_config", f"--db postgresql --db-url {url}")
    assert_no_secret(str(caught.value))


# SQLite ignores query arguments (with a warning), which lets this run without a server.
@pytest.mark.filterwarnings("ignore:Query string argument")
def test_ms_config_shows_the_url_without_its_secrets(shell, run, tmp_path):
    url = f"sqlite:///{tmp_path}/team.db?password=Pw-query-2&sslpassword=Pw-ssl-3"
    config, captured = run(shell, "ms_config", f"--db-url {url}")
    assert config.data["db_url"] == f"sqlite:///{tmp_path}/team.db?password=***&sslpassword=***"
    assert_no_secret(config.to_text(), *(json.dumps(o.data) for o in captured.outputs))


# -- quotes: the line is split like a POSIX shell ------------------------------------
@pytest.mark.parametrize("written, folder", [('"my models"', "my models"), ("'my models'", "my models"),
                                             (r"my\ models", "my models"), ('"it\'s here"', "it's here"),
                                             ('--dir="a b"', "a b")])
def test_ms_config_dir_with_quotes_names_the_folder_without_them(shell, run, tmp_path, written, folder):
    line = written if written.startswith("--") else f"--dir {written}"
    config, _ = run(shell, "ms_config", f"{line} -q")
    assert (tmp_path / folder / "registry.db").is_file()
    assert not [p.name for p in tmp_path.iterdir() if "'" in p.name.replace("it's", "") or '"' in p.name
                or "\\" in p.name]
    assert config.data["models_directory"] == folder


def test_quoted_option_values_and_python_values_keep_their_meaning(classification_data, run):
    shell = classification_data
    result, _ = run(shell, "train", "DecisionTreeClassifier X_train y_train --id \"tree\" -q "
                                    "criterion='entropy' max_depth=3 random_state=0")
    assert result.data["model_id"] == "tree" and result.data["model_params"]["criterion"] == "entropy"
    table, _ = run(shell, "models", "--search \"DecisionTree\" -q")
    assert [r["model_id"] for r in table.rows] == ["tree"]
    # a Python expression with quoted column names that contain spaces stays one word
    result, _ = run(shell, "train", "GaussianNB X_train[['mean radius','mean texture']] y_train --id two -q")
    assert result.data["feature_count"] == 2


def test_an_unclosed_quote_is_a_usage_error(shell, run, tmp_path):
    with pytest.raises(UsageError, match="quot"):
        run(shell, "ms_config", '--dir "my models')
    assert not any(tmp_path.iterdir())


# -- -o NAME ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["__builtins__", "__name__", "__x", "_", "__", "___", "_i", "_ii", "_i3", "_12",
                                  "_oh", "Out", "In", "get_ipython", "exit", "class", "None", "1x", "a.b", "a-b"])
def test_o_refuses_names_that_are_not_free_variable_names(shell, run, name):
    builtins_before = shell.user_ns["__builtins__"]
    with pytest.raises(UsageError, match="-o"):
        run(shell, "ms_config", f"-o {name} -q")
    assert shell.user_ns["__builtins__"] is builtins_before


def test_o_accepts_ordinary_names(shell, run):
    for name in ["config", "_private", "cfg2", "模型"]:
        config, _ = run(shell, "models", f"-o {name} -q")
        assert shell.user_ns[name] is config


def test_nan_in_the_validation_part_is_a_usage_error_not_a_traceback(shell, run):
    import numpy as np
    import pandas as pd

    from jupyter_modelservice.training import split

    X = pd.DataFrame(np.random.default_rng(0).normal(size=(40, 2)), columns=["a", "b"])
    y = pd.Series((X["a"] > 0).astype(int))
    X.loc[split(X, y, 0.2, "classification", 0)["X_val"].index[0], "b"] = np.nan
    shell.user_ns.update(Xn=X, yn=y)
    with pytest.raises(UsageError, match="NaN"):
        run(shell, "train", "LogisticRegression Xn yn --id lr -q")
