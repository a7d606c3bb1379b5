"""Loading and unloading the extension; what it imports; the magics' help."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

MAGICS = {"line": {"train", "cv", "evaluate", "compare", "importance", "models", "ms_config"},
          "cell": {"train", "cv"}}


def test_loading_imports_nothing_heavy():
    code = textwrap.dedent(
        """
        import json, sys
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        before = set(sys.modules)
        shell.run_line_magic("load_ext", "jupyter_modelservice")
        heavy = ["sklearn", "pandas", "matplotlib", "numpy", "scipy", "sqlalchemy", "joblib",
                 "ipywidgets", "jupyter_modelservice.service"]
        print(json.dumps({
            "loaded": sorted(m for m in heavy if m in sys.modules),
            "new": len(set(sys.modules) - before),
            "train": shell.find_line_magic("train") is not None,
        }))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["loaded"] == []
    assert report["train"] is True


def test_load_registers_and_unload_removes_the_magics(shell):
    manager = shell.magics_manager
    for kind, names in MAGICS.items():
        assert names <= set(manager.magics[kind])
    shell.run_line_magic("unload_ext", "jupyter_modelservice")
    for kind, names in MAGICS.items():
        assert not names & set(manager.magics[kind])
    assert "ModelServiceMagics" not in manager.registry
    shell.run_line_magic("load_ext", "jupyter_modelservice")  # the fixture unloads again
    assert MAGICS["line"] <= set(manager.magics["line"])


def test_loading_twice_keeps_one_instance(shell):
    first = shell.magics_manager.registry["ModelServiceMagics"]
    shell.run_line_magic("reload_ext", "jupyter_modelservice")
    shell.extension_manager.load_extension("jupyter_modelservice")
    assert shell.magics_manager.registry["ModelServiceMagics"] is not first  # reload made a new one
    assert shell.find_line_magic("train").__self__.owner is shell.magics_manager.registry["ModelServiceMagics"]


def test_the_service_is_created_on_first_use(shell):
    magics = shell.magics_manager.registry["ModelServiceMagics"]
    assert magics._service is None
    shell.run_line_magic("models", "-q")
    assert magics._service is not None


@pytest.mark.parametrize(
    ("magic", "options"),
    [
        ("train", ["MODEL X y", "%%train X y", "key=value", "--id ID", "--validation-split F", "--cv K",
                   "--scoring S", "--format", "joblib,pickle,skops", "--no-save", "-q", "-o NAME",
                   "RandomForestClassifier X_train y_train"]),
        ("cv", ["MODEL X y", "--folds K", "--scoring S", "--n-jobs N", "-q", "-o NAME"]),
        ("evaluate", ["REF", "X_test", "y_test", "--task", "classification,regression", "-q"]),
        ("compare", ["REF [REF ...] X_test y_test", "--sort METRIC", "mse, rmse, mae", "-o NAME"]),
        ("importance", ["REF", "--names VAR", "--top N", "--permutation X y"]),
        ("models", ["--status", "production", "--search TEXT", "--id ID", "--limit N"]),
        ("ms_config", ["--db", "sqlite,postgresql", "--db-url URL", "--dir PATH", "./models"]),
    ],
)
def test_help_lists_the_options(shell, magic, options):
    """``%train?`` shows the magic's docstring: the full argparse help."""
    doc = " ".join(shell.find_line_magic(magic).__doc__.split())
    for option in options:
        assert option in doc, f"{option!r} missing from %{magic}? help"
