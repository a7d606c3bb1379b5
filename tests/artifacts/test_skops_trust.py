"""skops files load with an explicit allow-list of exact type names, checked before anything is imported.

Issue 10, item 1: trusting every class under ``sklearn.``/``numpy.``/``scipy.`` let a
shared file build objects that are not model parts (one removes a folder of the
file's choosing when it is garbage-collected), and deciding whether a type was
trusted imported the module the file named (a module whose import runs a program).
"""

from __future__ import annotations

import gc
import hashlib
import importlib
import io
import json
import sys
import uuid
import zipfile

import numpy as np
import pandas as pd
import pytest
import sklearn
import skops.io
from sklearn import (
    calibration,
    compose,
    ensemble,
    feature_selection,
    gaussian_process,
    impute,
    linear_model,
    model_selection,
    naive_bayes,
    neighbors,
    neural_network,
    pipeline,
    preprocessing,
    svm,
    tree,
)

from jupyter_modelservice import ModelService, UntrustedTypesError
from jupyter_modelservice.artifacts import formats
from jupyter_modelservice.artifacts.skops_trust import default_trusted_types


class Holder:
    """A plain object whose class name the tests rewrite in the file's schema."""

    def __init__(self, **attrs):
        self.__dict__.update(attrs)


def _retarget(data: bytes, module: str, name: str) -> bytes:
    """The skops file ``data`` with every `Holder` in its schema renamed to ``module.name``."""

    def walk(node):
        if isinstance(node, dict):
            if node.get("__class__") == "Holder" and node.get("__module__") == __name__:
                node["__module__"], node["__class__"] = module, name
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == "schema.json":
                schema = json.loads(content)
                walk(schema)
                content = json.dumps(schema).encode()
            dst.writestr(info, content)
    return out.getvalue()


def _hostile_file(module: str, cls: str, /, **attrs) -> bytes:
    return _retarget(skops.io.dumps({"model": Holder(**attrs)}), module, cls)


@pytest.fixture
def trap(tmp_path, monkeypatch):
    """A module whose import writes ``marker`` and raises SystemExit, like a command-line program."""
    name = f"ms_trap_{uuid.uuid4().hex[:8]}"
    marker = tmp_path / "imported"
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / f"{name}.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nraise SystemExit('a program ran on import')\n"
        "class Payload:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(folder))
    # The same module reachable inside scikit-learn's namespace (what a plugin or a
    # ``__main__`` module under a trusted package looks like to a name check by prefix).
    monkeypatch.setattr(sklearn, "__path__", [*sklearn.__path__, str(folder)])
    yield name, marker
    for key in (name, f"sklearn.{name}"):
        sys.modules.pop(key, None)


@pytest.mark.parametrize("inside_sklearn", [False, True], ids=["top-level", "under-sklearn"])
def test_a_file_naming_a_module_never_imports_it(trap, inside_sklearn):
    name, marker = trap
    module = f"sklearn.{name}" if inside_sklearn else name
    data = _hostile_file(module, "Payload")
    with pytest.raises(UntrustedTypesError) as info:
        formats.loads(data, "skops")
    assert info.value.types == [f"{module}.Payload"]
    assert not marker.exists() and module not in sys.modules


def test_a_module_under_numpy_that_runs_a_program_on_import_is_not_imported(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["f2py"])  # if it ran, it would print its usage and exit
    sys.modules.pop("numpy.f2py.__main__", None)
    data = _hostile_file("numpy.f2py.__main__", "Payload")
    with pytest.raises(UntrustedTypesError, match=r"numpy\.f2py\.__main__\.Payload"):
        formats.loads(data, "skops")
    assert "numpy.f2py.__main__" not in sys.modules


def test_a_shared_file_naming_an_importing_module_is_refused_by_get_model(tmp_path, trap):
    """The attack end to end: the registry holds the file's own hash (as an import records it)."""
    name, marker = trap
    X = np.random.default_rng(0).normal(size=(30, 3))
    y = (X[:, 0] > 0).astype(int)
    with ModelService(models_directory=tmp_path / "models") as service:
        service.train_model(linear_model.LogisticRegression, X, y, model_id="shared")
        service.save_model("shared", save_format="skops")
        row = service.get_model_metadata("shared")
    hostile = _hostile_file(f"sklearn.{name}", "Payload")
    (tmp_path / "models" / "shared" / "v1.skops").write_bytes(hostile)
    with ModelService(models_directory=tmp_path / "models") as fresh:
        fresh.registry.update("shared", row["version"], {
            "file_sha256": hashlib.sha256(hostile).hexdigest(), "file_bytes": len(hostile)})
        with pytest.raises(UntrustedTypesError) as info:
            fresh.get_model("shared")
    assert info.value.types == [f"sklearn.{name}.Payload"]
    assert not marker.exists()


def test_a_library_class_whose_collection_removes_a_folder_is_refused(tmp_path):
    """numpy's DataSource removes its ``_destpath`` when collected: a class, not a model part."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    data = _hostile_file("numpy.lib._datasource", "DataSource", _istmpdest=True, _destpath=str(victim))
    with pytest.raises(UntrustedTypesError) as info:
        formats.loads(data, "skops")
    gc.collect()
    assert info.value.types == ["numpy.lib._datasource.DataSource"]
    assert (victim / "keep.txt").read_text() == "precious"


@pytest.mark.parametrize("module, name", [
    ("tempfile", "TemporaryDirectory"),
    ("numpy", "memmap"),
    ("numpy.lib.npyio", "DataSource"),
    ("numpy", "load"),
    ("sklearn.utils._testing", "TempMemmap"),
    ("sklearn.datasets._base", "load_files"),
    ("scipy.io._fortran", "FortranFile"),
    ("scipy.sparse", "load_npz"),
    ("subprocess", "Popen"),
    ("shutil", "rmtree"),
])
def test_io_process_and_temporary_directory_types_are_refused_by_name(module, name):
    data = _hostile_file(module, name, name="/nonexistent-ms-folder")
    with pytest.raises(UntrustedTypesError) as info:
        formats.loads(data, "skops")
    qualified = f"{module}.{name}"
    assert info.value.types == [qualified]
    message = str(info.value)
    assert qualified in message and f"trusted=[{qualified!r}]" in message


def test_the_allow_list_holds_exact_names_of_model_parts_only():
    names = default_trusted_types()
    assert isinstance(names, frozenset) and len(names) > 300
    assert default_trusted_types() is names  # computed once
    for part in ("sklearn.ensemble._forest.RandomForestClassifier", "sklearn.pipeline.Pipeline",
                 "sklearn.tree._tree.Tree", "sklearn._loss.loss.HalfBinomialLoss",
                 "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
                 "numpy.ndarray", "numpy.float64", "numpy.log1p", "scipy.sparse._csr.csr_matrix"):
        assert part in names, part
    forbidden = ("_testing", "tests", "datasets", "tempfile", "subprocess", "shutil", "memmap",
                 "DataSource", "npyio", "f2py", "_datasource", "PyFunc")
    for qualified in names:
        assert all(f".{word}" not in f".{qualified}" and word not in qualified.split(".")[-1]
                   for word in forbidden), qualified
        assert not qualified.startswith(("numpy.load", "scipy.io", "os.", "io.", "builtins.eval")), qualified
        assert qualified.rsplit(".", 1)[-1] not in {"load", "loadtxt", "fromfile", "open", "system"}, qualified


def test_no_class_on_the_allow_list_acts_when_collected():
    for qualified in default_trusted_types():
        module, _, attr = qualified.rpartition(".")
        obj = getattr(importlib.import_module(module), attr, None)
        if isinstance(obj, type):
            hooks = [k for k in obj.__mro__[:-1] if "__del__" in vars(k)]
            assert not hooks, f"{qualified} runs code when collected ({hooks[0].__qualname__}.__del__)"


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int), X @ [1.0, -2.0, 0.5, 0.0], (np.arange(120) % 3)


def _frame():
    rng = np.random.default_rng(1)
    return pd.DataFrame({"num": rng.normal(size=120), "other": rng.normal(size=120),
                         "cat": np.array(["a", "b", "c"])[np.arange(120) % 3]})


_COLUMNS = compose.ColumnTransformer([
    ("num", pipeline.make_pipeline(impute.SimpleImputer(), preprocessing.StandardScaler()), ["num", "other"]),
    ("cat", preprocessing.OneHotEncoder(handle_unknown="ignore"), ["cat"]),
])

# (estimator, target: "y" binary, "m" 3 classes, "r" regression, "f" frame + binary)
COMMON = [
    (ensemble.RandomForestClassifier(n_estimators=5, random_state=0), "y"),
    (ensemble.RandomForestRegressor(n_estimators=5, random_state=0), "r"),
    (ensemble.ExtraTreesClassifier(n_estimators=5, random_state=0), "y"),
    (ensemble.GradientBoostingClassifier(n_estimators=5, random_state=0), "y"),
    (ensemble.GradientBoostingClassifier(n_estimators=5, random_state=0), "m"),
    (ensemble.GradientBoostingRegressor(n_estimators=5, loss="huber", random_state=0), "r"),
    (ensemble.HistGradientBoostingClassifier(max_iter=5), "y"),
    (ensemble.HistGradientBoostingClassifier(max_iter=5), "m"),
    (ensemble.HistGradientBoostingRegressor(max_iter=5, loss="poisson"), "p"),
    (ensemble.AdaBoostClassifier(n_estimators=3, random_state=0), "y"),
    (tree.DecisionTreeRegressor(max_depth=3), "r"),
    (linear_model.LogisticRegression(), "m"),
    (linear_model.Ridge(), "r"),
    (linear_model.TweedieRegressor(power=1.5), "p"),
    (linear_model.SGDClassifier(random_state=0), "y"),
    (svm.SVC(probability=True, random_state=0), "y"),
    (svm.SVR(), "r"),
    (neighbors.KNeighborsClassifier(), "y"),
    (neighbors.KNeighborsRegressor(algorithm="ball_tree", metric="manhattan"), "r"),
    (naive_bayes.GaussianNB(), "y"),
    (neural_network.MLPClassifier(hidden_layer_sizes=(5,), max_iter=50, random_state=0), "y"),
    (neural_network.MLPRegressor(hidden_layer_sizes=(5,), solver="sgd", max_iter=50, random_state=0), "r"),
    (gaussian_process.GaussianProcessRegressor(), "r"),
    (calibration.CalibratedClassifierCV(svm.LinearSVC(), cv=3), "y"),
    (model_selection.GridSearchCV(linear_model.LogisticRegression(), {"C": [0.1, 1.0]}, cv=3), "y"),
    (pipeline.make_pipeline(preprocessing.StandardScaler(), feature_selection.SelectKBest(k=2),
                            linear_model.LogisticRegression()), "y"),
    (pipeline.make_pipeline(preprocessing.MinMaxScaler(), preprocessing.PolynomialFeatures(),
                            preprocessing.SplineTransformer(), linear_model.Ridge()), "r"),
    (pipeline.make_pipeline(_COLUMNS, ensemble.RandomForestClassifier(n_estimators=5, random_state=0)), "f"),
    (pipeline.make_pipeline(compose.ColumnTransformer([("cat", preprocessing.OrdinalEncoder(), ["cat"])],
                                                      remainder="passthrough"),
                            ensemble.HistGradientBoostingClassifier(max_iter=5, categorical_features=[0])), "f"),
    (pipeline.make_pipeline(preprocessing.FunctionTransformer(np.log1p), linear_model.LogisticRegression()), "a"),
]


@pytest.mark.parametrize("estimator, target", COMMON, ids=lambda p: type(p).__name__ if not isinstance(p, str) else p)
def test_common_estimators_load_without_trusted(estimator, target):
    X, y, r, m = _data()
    fits = {"y": (X, y), "m": (X, m), "r": (X, r), "p": (X, np.exp(r / 4)), "f": (_frame(), y),
            "a": (np.abs(X), y)}
    Xf, yf = fits[target]
    estimator.fit(Xf, yf)
    back = formats.loads(skops.io.dumps(estimator), "skops")
    assert type(back) is type(estimator)
    np.testing.assert_allclose(back.predict(Xf), estimator.predict(Xf))


def test_a_type_off_the_list_loads_once_the_user_names_it():
    data = skops.io.dumps({"model": Holder(a=1)})
    qualified = f"{__name__}.Holder"
    with pytest.raises(UntrustedTypesError) as info:
        formats.loads(data, "skops")
    assert info.value.types == [qualified] and "trusted=[" in str(info.value)
    assert formats.loads(data, "skops", trusted=[qualified])["model"].a == 1
