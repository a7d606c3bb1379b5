"""`ModelService`: train, cross-validate, evaluate, compare, save and reload models.

The facade of the ModelService specification (its examples run as written in
tests/test_spec_examples.py). It ties together the pure computing modules
(`training`, `evaluation`, `importance`), the SQL `registry` and the model file
store (`artifacts`). No IPython, ipywidgets or matplotlib here; the core never
prints. Its methods live in mixins by subject: `service_training.Training`,
`service_catalog.Catalog` (listing, metadata, archive, delete),
`service_evaluation.EvaluationRecords` and `service_lifecycle.Lifecycle`; this
module keeps construction, lookups, evaluation, persistence and prediction
(about 460 lines, most of them the public methods' documentation).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import probe, training
from .artifacts import formats
from .artifacts.store import Store
from .config import make_store, registry_url
from .exceptions import (
    InvalidInputError,
    ModelNotFoundError,
    NoModelError,
)
from .ids import (
    ModelRef,
    ModelVersion,
    parse_ref,
)
from .model_files import ModelFiles
from .parallel import ParallelConfig
from .registry import Registry
from .service_catalog import Catalog
from .service_evaluation import EvaluationRecords
from .service_lifecycle import Lifecycle
from .service_training import Training

__all__ = ["ModelService"]


class ModelService(Training, Catalog, EvaluationRecords, Lifecycle):
    """Train, evaluate, compare and version scikit-learn compatible models.

    Parameters
    ----------
    db_type : {"sqlite", "postgresql"}, default "sqlite"
        SQLite keeps ``registry.db`` inside ``models_directory``; PostgreSQL
        takes ``db_url`` or the ``MODELSERVICE_DB_URL`` environment variable.
    models_directory : str or path, default "./models"
        Folder of the model files (``<model_id>/v<N>.<ext>`` plus a JSON sidecar);
        created when missing. ``"db://"`` keeps the model files in the registry
        database itself (table ``model_blobs``; `DatabaseStore`), so that everyone
        who reaches the database reaches the models: no shared drive needed;
        with SQLite, ``db_url`` then names the database file.
    db_url : str, optional
        SQLAlchemy URL of the registry database.
    storage_options : dict, optional
        Passed to fsspec when ``models_directory`` is a URL such as ``s3://bucket/prefix``;
        with ``"db://"``, ``{"max_bytes": n}`` sets the largest model kept in the
        database (default 64 MiB; larger ones raise `ModelTooLargeError`).
    parallel_backend : {None, "loky", "threading", "dask"}, optional
        joblib backend for cross-validation folds and comparisons; None uses the
        active ``joblib.parallel_config``.
    scheduler : str or distributed.Client, optional
        Dask scheduler address (``"tcp://host:8786"``) for ``parallel_backend="dask"``.
    allow_pickle : bool, optional
        Whether joblib and pickle files (whose reading runs code) may be loaded
        and saved; default True, or ``MODELSERVICE_ALLOW_PICKLE=0`` in the
        environment for False. When False they raise `PickleNotAllowedError` on
        load and `InvalidInputError` on save: use ``save_format="skops"``.
    max_unsaved : int, default 20
        How many fitted models this session holds that were trained (or
        registered) but not saved. When a new one would exceed it, the oldest
        is let go of (an `UnsavedModelsDroppedWarning` names it): a loop that
        trains many models keeps the newest ones in memory, not all of them.
        Call `save_model` right after training to keep a model.
    probe_rows : {"quantiles", "real", None}, default "quantiles"
        The behaviour probe kept with each version trained (or registered with
        ``X``): five input rows and, once saved, the model's predictions on
        them. A load under other scikit-learn or NumPy versions predicts them
        again and warns (`EnvironmentMismatchWarning`) only if they changed.
        ``"quantiles"`` synthesises the rows from per-feature quantiles (no
        training row is stored); ``"real"`` keeps five training rows; None
        keeps no probe (loads then warn on any version difference).

    Attributes
    ----------
    current_model : estimator or None
        The model last trained or loaded; `predict` uses it.
    model_metadata : dict
        The registry row of `current_model`.
    registry : Registry
        The metadata database.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> service = ModelService(models_directory=tmp)              # doctest: +SKIP
    >>> result = service.train_model(RandomForestClassifier, X, y,
    ...                              model_id="rf", n_estimators=50)  # doctest: +SKIP
    >>> service.save_model("rf")                                    # doctest: +SKIP
    True
    """

    def __init__(
        self,
        db_type: str = "sqlite",
        models_directory: str | os.PathLike[str] = "./models",
        *,
        db_url: str | None = None,
        storage_options: dict[str, Any] | None = None,
        parallel_backend: str | None = None,
        scheduler: Any = None,
        allow_pickle: bool | None = None,
        max_unsaved: int = 20,
        probe_rows: str | None = "quantiles",
    ) -> None:
        if probe_rows not in ("quantiles", "real", None):
            raise InvalidInputError(f"probe_rows must be 'quantiles', 'real' or None, not {probe_rows!r}.")
        url = registry_url(db_type, models_directory, db_url)
        self.parallel = ParallelConfig(parallel_backend, scheduler)
        self.db_type = db_type
        self.models_directory = models_directory
        self.registry = Registry(url)
        store = make_store(models_directory, storage_options, registry=self.registry)
        self.files = ModelFiles(store, self.registry, allow_pickle)
        self.current_model: Any = None
        self.model_metadata: dict[str, Any] = {}
        self.max_unsaved = max_unsaved
        self.probe_rows = probe_rows
        # Versions this instance trained or registered but has not saved: their fitted estimators
        # exist nowhere else (no file), so this session must hold them to evaluate, compare or
        # save them. Oldest first; at most `max_unsaved` (`_hold_unsaved` lets go of the oldest).
        self._unsaved: dict[ModelVersion, Any] = {}
        # The newest version of each id this instance registered: what a bare id means here.
        self._trained: dict[str, int] = {}

    # -- small helpers -----------------------------------------------------
    @property
    def store(self) -> Store:
        """The model file store (`LocalStore`, `FsspecStore` for a URL, `DatabaseStore` for ``"db://"``)."""
        return self.files.store

    @store.setter
    def store(self, store: Store) -> None:
        self.files.store = store

    @property
    def database_service(self) -> Registry:
        """The registry (the spec's name for the metadata database)."""
        return self.registry

    @property
    def current_ref(self) -> str | None:
        """``"model_id:version"`` of `current_model`, or None."""
        if self.current_model is None or not self.model_metadata:
            return None
        return f"{self.model_metadata['model_id']}:{self.model_metadata['version']}"

    def close(self) -> None:
        """Release the database connections (and a Dask client this service opened)."""
        self.registry.close()
        self.parallel.close()

    def __enter__(self) -> ModelService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"ModelService(db_type={self.db_type!r}, models_directory="
                f"{os.fspath(self.models_directory)!r}, current={self.current_ref!r})")

    def _lookup(self, model_id: str | ModelRef | None, version: Any = None) -> tuple[ModelVersion, dict[str, Any]]:
        """The reference (with a concrete version) and registry row; None means the current model.

        A bare id means the newest version this instance trained of that id, if it trained one
        (so that another session training the same id meanwhile changes nothing here), else
        the registry's latest. One registry query either way.
        """
        if model_id is None:
            if not self.model_metadata:
                raise NoModelError(
                    "No current model: train_model() or load_model() first, or pass model_id."
                )
            model_id = ModelRef(self.model_metadata["model_id"],
                                None if version is not None else self.model_metadata["version"])
        ref = parse_ref(model_id, version)
        own = self._trained.get(ref.model_id) if ref.version is None else None
        if own is not None:
            try:
                return ModelVersion(ref.model_id, own), self.registry.get(ref.model_id, own)
            except ModelNotFoundError:  # deleted since: the bare id means the latest again
                self._trained.pop(ref.model_id, None)
        row = self.registry.get(ref.model_id, ref.version)
        return ModelVersion(ref.model_id, row["version"]), row

    def _set_current(self, estimator: Any, row: dict[str, Any]) -> None:
        self.current_model = estimator
        self.model_metadata = self.files.public(row) if row else {}

    # -- evaluation --------------------------------------------------------
    def evaluate_model(
        self,
        X_test: Any,
        y_test: Any,
        model_id: str | None = None,
        task_type: str | None = None,
        *,
        return_predictions: bool = False,
        refresh: bool = False,
    ) -> dict[str, Any]:
        """Every metric of the task on test data; recorded, and stored on the version's row.

        Classification: ``accuracy``, weighted ``precision``/``recall``/``f1_score``,
        ``roc_auc`` (when probabilities exist), ``classification_report``,
        ``confusion_matrix`` and its ``labels``. Regression: ``mse``, ``rmse``,
        ``mae``, ``r2_score``. ``model_id`` accepts ``"id"`` or ``"id:3"``;
        None evaluates the current model. ``return_predictions=True`` adds
        ``"predictions"`` (``y_pred``, ``y_score``, ``classes``).

        Each evaluation is recorded (`evaluations` lists them) with the
        fingerprint of ``(X_test, y_test)`` and the predictions; the version's
        ``metrics`` column keeps the latest. A version already evaluated on
        data with the same fingerprint is not asked to predict again: the
        stored evaluation is returned, unless ``refresh=True``.
        """
        ref, row = self._lookup(model_id)
        X_test, y_test = training.check_xy(X_test, y_test)
        [done], _ = self._evaluate_versions([(ref, row)], X_test, y_test, task_type=task_type, refresh=refresh,
                                            need_predictions=return_predictions)
        out = _evaluation_result(done.ref, done.row, done.metrics)
        if return_predictions:
            out["predictions"] = done.predictions
        return out

    def compare_models(
        self,
        model_ids: Iterable[str],
        X_test: Any,
        y_test: Any,
        *,
        metric: str | None = None,
        alpha: float = 0.05,
        n_bootstrap: int = 1000,
        random_state: int = 0,
        progress: training.ProgressCallback | None = None,
        refresh: bool = False,
    ) -> Any:
        """Evaluate several models on the same data; one DataFrame row per model, best first.

        ``model_ids`` are ids (latest version) or ``"id:version"`` references.
        Rows are sorted best first by ``metric`` (default: accuracy or R²).
        Mixing classification and regression models raises `IncompatibleModelsError`.

        Is the difference real? Besides every metric, each row has ``ci_low`` /
        ``ci_high`` (the ``1 - alpha`` paired bootstrap interval of ``metric``:
        the same ``n_bootstrap`` resamples of the test rows for every model,
        seeded with ``random_state``), ``p_value`` (the test against the best
        model, Holm-adjusted across the rows; NaN for the best) and
        ``tied_with_best`` (``p_value >= alpha``; True for the best). The test is
        the exact McNemar test for accuracy, else a paired bootstrap.
        ``frame.attrs`` holds ``metric``, ``test``, ``alpha``, ``n_samples``,
        ``n_bootstrap``, ``random_state``, the ``data_fingerprint`` of the test
        data and ``reused`` (the versions whose stored evaluation was used).

        Every evaluation is recorded with its predictions; comparing versions
        again on the same data reuses them (nothing is loaded or predicted)
        unless ``refresh=True``.
        """
        from .evaluation import check_same_task, comparison_frame

        if isinstance(model_ids, str):
            model_ids = [model_ids]
        looked_up = [self._lookup(m) for m in model_ids]
        if not looked_up:
            raise InvalidInputError("compare_models needs at least one model id.")
        check_same_task([row for _, row in looked_up])
        X_test, y_test = training.check_xy(X_test, y_test)
        # Evaluations run under the parallel backend (a Dask cluster if set); rows are written here.
        evaluated, fingerprint = self._evaluate_versions(looked_up, X_test, y_test, refresh=refresh,
                                                         need_predictions=True, progress=progress, parallel=True)
        frame = comparison_frame([_evaluation_result(e.ref, e.row, e.metrics) for e in evaluated], metric=metric)
        frame = self._with_significance(frame, evaluated, y_test, alpha=alpha, n_bootstrap=n_bootstrap,
                                        random_state=random_state, fingerprint=fingerprint)
        frame.attrs["reused"] = [str(e.ref) for e in evaluated if e.reused]
        return frame

    def get_feature_importance(
        self,
        feature_names: Sequence[str] | None = None,
        model_id: str | None = None,
        *,
        permutation: bool = False,
        X: Any = None,
        y: Any = None,
        n_repeats: int = 5,
        random_state: int = 0,
    ) -> dict[str, float]:
        """Importance per feature, largest first.

        ``feature_importances_`` for tree models, ``|coef_|`` (mean over
        classes) for linear models, the final step of a Pipeline; with
        ``permutation=True`` (and ``X``, ``y``) permutation importance for any
        estimator. Names default to the training DataFrame's columns.
        """
        from .importance import feature_importance

        ref, row = self._lookup(model_id)
        return feature_importance(
            self._estimator(ref, row), feature_names, row.get("feature_names"),
            permutation=permutation, X=X, y=y, n_repeats=n_repeats, random_state=random_state,
        )

    # -- persistence -------------------------------------------------------
    def save_model(
        self,
        model_id: str | None = None,
        save_format: str = "joblib",
        *,
        version: int | None = None,
    ) -> bool:
        """Write a model version to ``<models_directory>/<id>/v<N>.<ext>`` and mark it saved.

        ``save_format`` is ``"joblib"`` (default), ``"pickle"`` or ``"skops"``.
        The file is written to a temp name, fsynced, hashed (sha256), registered
        and only then renamed into place, so a crash never leaves a torn file or
        a row pointing at nothing. With ``models_directory="db://"`` the bytes
        are stored in the registry database, in the transaction that marks the
        version saved (`ModelTooLargeError` beyond the store's size limit,
        nothing written). Returns True.
        """
        formats.check_format(save_format)
        ref, row = self._lookup(model_id, version)
        if (row["file_path"] and row["file_format"] == save_format and row["artifact_state"] == "ready"
                and self.store.exists(row["file_path"])):  # a vanished file is written again
            return True
        estimator = self._estimator(ref, row)
        row = self.files.save(ref, row, estimator, save_format, values=_probe_outputs(row, estimator))
        if self.current_ref == str(ref):
            self.model_metadata = self.files.public(row)
        self._unsaved.pop(ref, None)
        return True

    def load_model(self, model_id: str, *, version: int | None = None,
                   trusted: Iterable[str] = (), trust_unverified: bool = False) -> bool:
        """Make a saved (or this session's unsaved) version the current model.

        ``model_id`` is ``"id"`` (latest version) or ``"id:3"``. The file is
        read with the format the registry recorded, after checking its sha256
        and that its bytes are of that format (`ArtifactIntegrityError`
        otherwise). ``trusted`` lists extra exact type names allowed in a skops
        file beyond the allow-list of model parts.
        A version restored from a sidecar or imported from an archive is
        refused (`UnverifiedModelError`) until confirmed with `trust`;
        ``trust_unverified=True`` loads it this once.
        """
        ref, row = self._lookup(model_id, version)
        self._set_current(self._estimator(ref, row, trusted, trust_unverified), row)
        return True

    def get_model(self, model_id: str | None = None, *, version: int | None = None,
                  trusted: Iterable[str] = (), trust_unverified: bool = False) -> Any:
        """The fitted estimator of a version, without changing `current_model`."""
        ref, row = self._lookup(model_id, version)
        return self._estimator(ref, row, trusted, trust_unverified)

    def trust(self, model_id: str, version: int | None = None) -> dict[str, Any]:
        """Confirm an unverified version (restored from a sidecar or imported): loads may use it.

        Its file is checked against the recorded sha256 first, and a
        ``trusted`` event records who confirmed it. Look at what it is before
        (`get_model_metadata`, `model_history`): confirming tells the registry
        that its file is safe to deserialize. Returns the updated row.
        """
        from .trust import confirm

        ref, row = self._lookup(model_id, version)
        confirm(self.files, ref, row)
        updated = self.get_model_metadata(ref.model_id, ref.version)
        if self.current_ref == str(ref):
            self.model_metadata = updated
        return updated

    def _estimator(self, ref: ModelVersion, row: dict[str, Any], trusted: Iterable[str] = (),
                   trust_unverified: bool = False) -> Any:
        """The fitted estimator of ``ref``, from the cheapest place that has it.

        1. `current_model`, when ``ref`` is the current version (no copy, no I/O);
        2. ``_unsaved``, the versions this session trained but did not save
           (they have no file: this is their only copy);
        3. the version's file, read and checked against its sha256 (`ModelFiles.read`).
        """
        if self.current_model is not None and self.current_ref == str(ref):
            return self.current_model
        if ref in self._unsaved:
            return self._unsaved[ref]
        if not row["file_path"] and row.get("artifact_state") == "removed":
            raise NoModelError(
                f"The file of {ref} was removed by garbage collection after the version was "
                "archived; only its metadata is kept. Train it again to get it back."
            )
        if not row["file_path"]:
            raise NoModelError(
                f"{ref} was trained but never saved, and this session does not hold it; "
                "train it again (and call save_model right after training to keep it)."
            )
        return self.files.read(ref, row, trusted, trust_unverified=trust_unverified)

    # -- prediction --------------------------------------------------------
    def predict(self, X: Any) -> Any:
        """Predictions of the current model."""
        return self._current("predict")(X)

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities of the current model."""
        return self._current("predict_proba")(X)

    def _current(self, method: str) -> Any:
        if self.current_model is None:
            raise NoModelError("No current model: train_model() or load_model() first.")
        if not hasattr(self.current_model, method):
            raise InvalidInputError(
                f"{type(self.current_model).__name__} ({self.current_ref}) has no {method}(); "
                + ("use predict(), or a classifier with probabilities (e.g. SVC(probability=True))."
                   if method == "predict_proba" else "it cannot make predictions.")
            )
        return getattr(self.current_model, method)

    def _set_values(self, ref: ModelVersion, values: Mapping[str, Any]) -> dict[str, Any]:
        """Store results (scores, metrics) on a version, with its sidecar; return the public row."""
        with self.files.atomic():
            self.registry.set_values(*ref, values)
            row = self.registry.get(*ref)
        return self._refresh(row)

    def _refresh(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The public form of a row just written; `model_metadata` follows it when it is current."""
        public = self.files.public(row)
        if self.model_metadata and self.current_ref == str(ModelVersion.of(row)):
            self.model_metadata = public
        return public


def _probe_outputs(row: Mapping[str, Any], estimator: Any) -> dict[str, Any] | None:
    """``{"probe": ...}`` with what ``estimator`` predicts on the version's probe rows, to record with
    its first save; None when there is nothing to add. A model that cannot predict them keeps no probe
    (its loads then warn on any version change): a probe is a check, never a reason for a save to fail."""
    inputs = row.get("probe")
    if not inputs or "predict" in inputs:
        return None
    try:
        return {"probe": probe.with_outputs(estimator, inputs)}
    except Exception:  # noqa: BLE001 - see above
        return {"probe": None}


def _evaluation_result(ref: ModelVersion, row: Mapping[str, Any], metrics: Mapping[str, Any]) -> dict[str, Any]:
    """What `evaluate_model` returns: the version's identity, then the metrics."""
    return {"model_id": ref.model_id, "version": ref.version, "model_class": row["model_class"], **metrics}
