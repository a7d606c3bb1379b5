import json
import subprocess
import sys

import jupyter_modelservice
from jupyter_modelservice import exceptions


def _modules_after(code):
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_public_names_exist_and_are_listed():
    for name in jupyter_modelservice.__all__:
        assert getattr(jupyter_modelservice, name) is not None
    assert set(exceptions.__all__) <= set(jupyter_modelservice.__all__)


def test_importing_the_package_is_light():
    loaded = _modules_after("import jupyter_modelservice")
    assert not {"sklearn", "pandas", "matplotlib", "IPython", "ipywidgets", "sqlalchemy"} & loaded


def test_the_core_never_imports_notebook_or_plotting_libraries():
    loaded = _modules_after(
        "from jupyter_modelservice import ModelService\n"
        "import jupyter_modelservice.training, jupyter_modelservice.evaluation, "
        "jupyter_modelservice.importance, jupyter_modelservice.registry, jupyter_modelservice.artifacts"
    )
    assert not {"IPython", "ipywidgets", "matplotlib"} & loaded
    assert "sklearn" not in loaded  # imported on first use


def test_errors_inherit_the_matching_builtins():
    assert issubclass(exceptions.ModelNotFoundError, KeyError)
    assert issubclass(exceptions.InvalidModelIdError, ValueError)
    assert str(exceptions.ModelNotFoundError("No model 'x'")) == "No model 'x'"
