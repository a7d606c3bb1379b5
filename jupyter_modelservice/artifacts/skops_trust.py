"""The types a skops model file may hold without the user naming them: an allow-list of exact names.

A skops file declares each object's type as text (``module`` + ``class``). Before
anything is imported or built, those names are compared with this list and with
the caller's ``trusted=[...]``; every other name refuses the file. Nothing is
trusted by prefix, and deciding never imports a module the file names.

The list is computed once per process from the installed scikit-learn, NumPy
and SciPy (packages skops imports anyway), never from a file:

* scikit-learn estimators, transformers and meta-estimators (`sklearn.utils.all_estimators`);
* the fitted parts they hold that skops does not trust itself: trees and
  histogram-GBM predictors, losses and links, bin mappers, neighbour trees and
  distance metrics, MLP optimizers, calibrators, Gaussian-process kernels,
  cross-validation splitters, scorers and their metric functions, the score
  functions of univariate feature selection, ``Bunch``;
* NumPy arrays, scalar and dtype types, random generators; SciPy sparse
  matrices and arrays, and the B-splines of ``SplineTransformer``;
* the NumPy and ``scipy.special`` ufuncs and NumPy dtypes skops trusts by
  default (its own lists).

Every name on the list can be built or called with the file's arguments (skops
does both), so the list leaves out I/O helpers, file readers and loaders,
temporary files and folders, processes, test utilities, Python-function
wrappers, and any class whose instances act when collected (``__del__``).

Unlike skops' defaults, the list holds ``Tree`` and ``TreePredictor``, so that
forests and boosting models load without ``trusted=``. skops leaves them off
because scikit-learn does not bounds-check their node arrays: a crafted file
can crash the process at ``predict`` (no code of the file runs). Here a file
is only read when it hashes to what the registry recorded, and imported or
restored versions wait for a person's confirmation.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["default_trusted_types", "is_excluded"]

#: Dotted-name parts that never belong to a model (I/O, tests, data loaders, process or file helpers).
_EXCLUDED_PARTS = frozenset({
    "_testing", "testing", "tests", "datasets", "io", "npyio", "_npyio_impl", "_datasource", "f2py",
    "tempfile", "subprocess", "shutil", "os", "multiprocessing", "externals",
})
#: Names that never belong to a model, wherever they are defined.
_EXCLUDED_NAMES = frozenset({"memmap", "DataSource", "load", "loadtxt", "fromfile", "load_npz",
                             "TemporaryDirectory", "Popen"})


def is_excluded(qualified: str) -> bool:
    """Whether the dotted name ``qualified`` is of a kind the allow-list never holds."""
    *parts, name = qualified.split(".")
    return (bool(_EXCLUDED_PARTS.intersection(parts)) or name in _EXCLUDED_NAMES
            or name.startswith("PyFunc"))


@functools.cache
def default_trusted_types() -> frozenset[str]:
    """The exact type and function names a skops file may hold without ``trusted=[...]``.

    Computed on first use from the installed scikit-learn, NumPy and SciPy, then
    cached for the process.

    Returns
    -------
    frozenset of str
        Dotted names as skops writes them, e.g.
        ``"sklearn.ensemble._forest.RandomForestClassifier"`` or ``"numpy.log1p"``.

    Examples
    --------
    >>> "sklearn.pipeline.Pipeline" in default_trusted_types()  # doctest: +SKIP
    True
    """
    objects: list[Any] = []
    for collect in (_estimators, _fitted_parts, _numpy_types, _scipy_types, _ufuncs):
        objects.extend(collect())
    names = {_type_name(obj) for obj in objects if not _acts_when_collected(obj)}
    names.update(_skops_alias_names(), _skops_default_names())
    return frozenset(name for name in names if not is_excluded(name))


def _type_name(obj: Any) -> str:
    """The name skops writes for ``obj`` (its own helper, so that the names match)."""
    try:
        from skops.io._utils import get_type_name
    except ImportError:  # pragma: no cover - an older or newer skops layout
        return f"{obj.__module__}.{obj.__name__}"
    return get_type_name(obj)


def _acts_when_collected(obj: Any) -> bool:
    return isinstance(obj, type) and any("__del__" in vars(k) for k in obj.__mro__[:-1])


def _module(name: str) -> Any:
    """A module of the known libraries, or None when this version lacks it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _picked(module_name: str, names: Iterable[str]) -> list[Any]:
    module = _module(module_name)
    return [getattr(module, n) for n in names if hasattr(module, n)] if module else []


def _defined_classes(module_name: str, keep: Callable[[type], bool] = lambda cls: True) -> list[type]:
    """Classes defined in ``module_name`` itself (not re-exported ones) that ``keep`` accepts."""
    module = _module(module_name)
    if module is None:
        return []
    return [cls for _, cls in inspect.getmembers(module, inspect.isclass)
            if cls.__module__ == module_name and keep(cls)]


def _estimators() -> list[type]:
    from sklearn.utils import all_estimators

    return [cls for _, cls in all_estimators() if cls.__module__.startswith("sklearn.")]


def _fitted_parts() -> list[Any]:
    """What fitted estimators hold beyond estimators and arrays."""
    import functools as _functools

    parts: list[Any] = [_functools.partial]  # a partial of a listed function (HistGradientBoosting)
    parts += _picked("sklearn.tree._tree", ["Tree"])
    parts += _picked("sklearn.ensemble._hist_gradient_boosting.predictor", ["TreePredictor"])
    parts += _picked("sklearn.ensemble._hist_gradient_boosting.binning", ["_BinMapper"])
    parts += _defined_classes("sklearn._loss.loss")
    parts += _defined_classes("sklearn._loss.link")
    parts += _defined_classes("sklearn._loss._loss", lambda cls: cls.__name__.startswith("Cy"))
    parts += _picked("sklearn.neighbors._kd_tree", ["KDTree"])
    parts += _picked("sklearn.neighbors._ball_tree", ["BallTree"])
    parts += _defined_classes("sklearn.metrics._dist_metrics",
                              lambda cls: cls.__name__.startswith(("Distance", *_DISTANCES)))
    parts += _defined_classes("sklearn.neural_network._stochastic_optimizers")
    parts += _picked("sklearn.calibration", ["_CalibratedClassifier", "_SigmoidCalibration"])
    parts += _defined_classes("sklearn.gaussian_process.kernels",
                              lambda cls: cls.__name__ not in ("Hyperparameter",))
    parts += _picked("sklearn.gaussian_process._gpc", ["_BinaryGaussianProcessClassifierLaplace"])
    parts += _defined_classes("sklearn.model_selection._split")
    parts += _defined_classes("sklearn.metrics._scorer")
    parts += _picked("sklearn.utils._bunch", ["Bunch"])
    parts += _picked("sklearn.utils.validation", ["check_array"])
    parts += _picked("sklearn.feature_selection", ["chi2", "f_classif", "f_oneway", "f_regression",
                                                   "r_regression", "mutual_info_classif",
                                                   "mutual_info_regression"])
    parts += _scorer_functions()
    return parts


#: Distance metrics computed in Cython (``PyFuncDistance`` wraps a Python function: not listed).
_DISTANCES = ("BrayCurtis", "Canberra", "Chebyshev", "Dice", "Euclidean", "Hamming", "Haversine",
              "Jaccard", "Kulsinski", "Mahalanobis", "Manhattan", "Matching", "Minkowski",
              "RogersTanimoto", "RussellRao", "SEuclidean", "SokalMichener", "SokalSneath")


def _scorer_functions() -> list[Any]:
    """The metric functions behind scikit-learn's named scorers (``scoring="roc_auc"``)."""
    from sklearn.metrics import get_scorer, get_scorer_names

    funcs = (getattr(get_scorer(name), "_score_func", None) for name in get_scorer_names())
    return [f for f in funcs if inspect.isfunction(f)]


def _numpy_types() -> list[Any]:
    import numpy as np

    parts: list[Any] = [np.ndarray, np.matrix, np.ma.MaskedArray, np.dtype, *set(np.sctypeDict.values())]
    parts += [cls for cls in vars(importlib.import_module("numpy.dtypes")).values()
              if isinstance(cls, type) and issubclass(cls, np.dtype)]
    random = np.random
    parts += [random.RandomState, random.Generator, random.SeedSequence]
    parts += [cls for cls in vars(random).values()
              if isinstance(cls, type) and issubclass(cls, random.BitGenerator) and cls is not random.BitGenerator]
    return parts


def _skops_alias_names() -> list[str]:
    """Bit generators as skops names them when it rebuilds a ``Generator`` (``numpy.random.PCG64``)."""
    import numpy as np

    return [f"numpy.random.{name}" for name, cls in vars(np.random).items()
            if isinstance(cls, type) and issubclass(cls, np.random.BitGenerator)
            and cls is not np.random.BitGenerator]


def _scipy_types() -> list[Any]:
    import scipy.sparse as sparse

    bases = tuple(b for b in (getattr(sparse, "spmatrix", None), getattr(sparse, "sparray", None)) if b)
    parts: list[Any] = [cls for cls in vars(sparse).values() if isinstance(cls, type) and issubclass(cls, bases)]
    bspline = _picked("scipy.interpolate", ["BSpline"])
    parts += bspline
    if bspline:  # what a fitted SplineTransformer's splines hold: an asarray function
        import numpy as np

        spline = bspline[0](np.arange(6.0), np.zeros(3), 2)
        parts += [v for v in vars(spline).values() if callable(v) and getattr(v, "__name__", "") == "asarray"]
    return parts


def _ufuncs() -> list[Any]:
    """NumPy's public ufuncs (``numpy.log1p`` in a ``FunctionTransformer``)."""
    import numpy as np

    return [obj for attr in dir(np) if isinstance(obj := getattr(np, attr, None), np.ufunc)]


def _skops_default_names() -> list[str]:
    """The names skops trusts by default in functions and dtypes: its own lists, as it computed them.

    ``scipy.special`` ufuncs carry no module name; skops finds theirs once at import.
    """
    try:
        from skops.io import _trusted_types as skops_defaults
    except ImportError:  # pragma: no cover - a skops without these lists
        return []
    lists = ("NUMPY_UFUNC_TYPE_NAMES", "SCIPY_UFUNC_TYPE_NAMES", "NUMPY_DTYPE_TYPE_NAMES",
             "NUMPY_RANDOM_BIT_GENERATOR_TYPE_NAMES", "SKLEARN_INTERNAL_TYPE_NAMES")
    return [name for attr in lists for name in getattr(skops_defaults, attr, [])
            if isinstance(name, str)]
