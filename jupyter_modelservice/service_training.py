"""Training and registering models in `ModelService`: fit and score a new version, register
one fitted elsewhere, cross-validate, and the versions a session holds in memory until they are saved.

A mixin of `ModelService` (like `service_lifecycle.Lifecycle`). The computing
lives in `training` (sklearn only); this part records the results in the
registry and keeps each new version's estimator in memory (``_unsaved``, at
most ``max_unsaved`` of them, the oldest let go with a warning) until
`save_model` writes it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import probe, provenance, training
from .exceptions import InvalidInputError, UnsavedModelsDroppedWarning
from .ids import ModelVersion, generate_model_id, generated_id_prefix, validate_model_id
from .parallel import ParallelConfig
from .registry import Registry

__all__ = ["Training"]


class Training:
    """The training methods of `ModelService` (see the module docstring)."""

    registry: Registry
    parallel: ParallelConfig
    probe_rows: str | None
    max_unsaved: int
    _unsaved: dict[ModelVersion, Any]
    _trained: dict[str, int]

    if TYPE_CHECKING:
        def _lookup(self, model_id: Any, version: Any = None) -> tuple[ModelVersion, dict[str, Any]]: ...
        def _set_current(self, estimator: Any, row: dict[str, Any]) -> None: ...
        def _record_cv(self, ref: ModelVersion, X: Any, y: Any, result: dict[str, Any]) -> None: ...

    def train_model(
        self,
        model_class: Any,
        X: Any,
        y: Any,
        model_id: str | None = None,
        validation_split: float = 0.2,
        *,
        parent: str | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Fit a model, score it on a held-out split, and register it as a new version.

        Parameters
        ----------
        model_class : estimator class, unfitted estimator or Pipeline
        X, y : array-like or DataFrame / Series
            Feature names of a DataFrame are kept.
        model_id : str, optional
            Registry id; a new version is added when it exists. Generated when None.
        validation_split : float, default 0.2
            Fraction held out (stratified for classifiers); 0 trains on every row.
        parent : str, optional
            The version this one was retrained from (``"rf:3"``; ``"rf"`` is
            resolved to a version); recorded for `lineage`.
        **params
            Estimator parameters.

        Returns
        -------
        dict
            ``model_id``, ``version``, ``model_class``, ``model_params``,
            ``task_type``, ``train_score``, ``validation_score``, ``scoring``,
            sample and feature counts, ``training_date``, ``fit_seconds``, ...
        """
        if model_id is not None:
            model_id = self._new_version_id(model_id)
        parent_ref = str(self._lookup(parent)[0]) if parent is not None else None
        estimator = training.make_estimator(model_class, params)
        task_type = training.infer_task(estimator, y)
        X, y = training.check_xy(X, y, task_type)
        seed = params.get("random_state")
        seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else 0
        parts = training.split(X, y, validation_split, task_type, seed)
        scoring = training.default_scoring(task_type)
        scores = training.fit_and_score(estimator, parts, scoring)
        return self._register(estimator, model_id, {
            "task_type": task_type,
            "training_samples": len(parts["y_train"]),
            "validation_samples": 0 if parts["y_val"] is None else len(parts["y_val"]),
            "feature_count": _n_features(estimator, X),
            "feature_names": training.feature_names_of(X),
            "scoring": scoring,
            **scores,
            "data_fingerprint": provenance.data_fingerprint(X, y),
            "training_config": parts["config"],
            "parent": parent_ref,
            "probe": probe.inputs_from(X, rows=self.probe_rows) if self.probe_rows else None,
        })

    def register_model(
        self,
        estimator: Any,
        model_id: str | None = None,
        *,
        X: Any = None,
        y: Any = None,
        task_type: str | None = None,
    ) -> dict[str, Any]:
        """Register an estimator fitted elsewhere as a new version (status ``trained``).

        With ``X`` (and ``y``), feature count, names and the data fingerprint are
        recorded too. The model becomes the current one; `save_model` writes it.
        """
        if model_id is not None:
            model_id = self._new_version_id(model_id)
        if not hasattr(estimator, "predict"):
            raise InvalidInputError(
                f"register_model needs a fitted estimator with predict(); got {type(estimator).__name__}."
            )
        known_width = X is not None or hasattr(estimator, "n_features_in_")
        return self._register(estimator, model_id, {
            "task_type": task_type or training.infer_task(estimator, y),
            "feature_count": _n_features(estimator, X) if known_width else None,
            "feature_names": training.feature_names_of(X) if X is not None else None,
            "training_samples": len(y) if y is not None else None,
            "data_fingerprint": provenance.data_fingerprint(X, y) if X is not None else None,
            "probe": probe.inputs_from(X, rows=self.probe_rows) if X is not None and self.probe_rows else None,
        })

    def _register(self, estimator: Any, model_id: str | None, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Add a version for a fitted ``estimator``, hold it in memory and make it current."""
        model_type = type(estimator)
        row = {
            "model_id": model_id,
            "model_class": model_type.__name__,
            "model_module": model_type.__module__,
            "model_params": training.json_params(estimator),
            "status": "trained",
            "environment": provenance.environment(),
            "source": provenance.source(),
            **fields,
        }
        if model_id is None:
            with self.registry.atomic():  # the generated id is free until this transaction ends
                row["model_id"] = self._generated_id(model_type.__name__)
                row = self.registry.register(row)
        else:
            row = self.registry.register(row)
        version = row["version"]
        self._hold_unsaved(ModelVersion(row["model_id"], version), estimator)
        self._trained[row["model_id"]] = version
        self._set_current(estimator, row)
        return _train_result(row)

    def cross_validate_model(
        self,
        model_class: Any,
        X: Any,
        y: Any,
        cv_folds: int = 5,
        scoring: str | Sequence[str] | None = None,
        n_jobs: int | None = None,
        *,
        progress: training.ProgressCallback | None = None,
        model_id: str | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """K-fold cross-validation (stratified for classifiers).

        Any scikit-learn scoring name or a list of them; folds run through the
        active joblib backend (``joblib.parallel_config(backend="dask")`` runs
        them on a Dask cluster). ``progress(done, total)`` is called after each
        fold. With ``model_id`` (``"id"`` or ``"id:3"``) the fold scores are
        recorded on that version (its ``cv_scores``, and an evaluation record
        of kind ``"cv"`` that `compare_cv` compares).

        The splitter is fixed and recorded: ``StratifiedKFold(cv_folds,
        shuffle=True, random_state=0)`` for classifiers, ``KFold`` with the
        same settings otherwise, so models cross-validated on the same data
        see the same folds.

        Returns
        -------
        dict
            ``mean_score``, ``std_score``, ``cv_scores`` (per fold), ``scoring``,
            ``cv_folds``, ``fit_time``, ``score_time``, ``model_class``,
            ``model_params`` (and ``scores`` per scoring for a list), the
            ``splitter``, ``train_sizes``, ``test_sizes``, ``folds_digest`` and
            the ``data_fingerprint`` of ``(X, y)``.
        """
        ref = self._lookup(model_id)[0] if model_id is not None else None
        estimator = training.make_estimator(model_class, params)
        task_type = training.infer_task(estimator, y)
        X, y = training.check_xy(X, y, task_type)
        with self.parallel.context():
            result = training.cross_validate(
                estimator, X, y, cv_folds=cv_folds, scoring=scoring, task_type=task_type,
                n_jobs=n_jobs, progress=progress,
            )
        result["model_class"] = type(estimator).__name__
        result["model_params"] = training.json_params(estimator)
        result["data_fingerprint"] = provenance.data_fingerprint(X, y)
        if ref is not None:
            self._record_cv(ref, X, y, result)
            result.update(model_id=ref.model_id, version=ref.version)
        return result

    def _hold_unsaved(self, ref: ModelVersion, estimator: Any) -> None:
        """Keep ``estimator`` as the only copy of the unsaved ``ref``, letting go of the oldest
        unsaved ones beyond `max_unsaved` (with an `UnsavedModelsDroppedWarning` naming them)."""
        self._unsaved[ref] = estimator
        excess = len(self._unsaved) - max(int(self.max_unsaved), 1)
        if excess <= 0:
            return
        dropped = list(self._unsaved)[:excess]
        for old in dropped:
            del self._unsaved[old]
        names = ", ".join(map(str, dropped))
        warnings.warn(
            f"This session holds at most {self.max_unsaved} unsaved models (max_unsaved); it let go "
            f"of {names}, which were never saved and can no longer be loaded, evaluated or saved. "
            "Call save_model right after training to keep a model (or raise max_unsaved).",
            UnsavedModelsDroppedWarning,
            stacklevel=4,  # the user's train_model / register_model call
        )

    def _generated_id(self, class_name: str) -> str:
        """A new id for an unnamed model (``randomforest-3``), unique in the registry.

        Called inside the write transaction that registers the model: sessions
        naming the same kind of model wait for each other, and an id that
        ever existed (deleted since) is skipped, so its history stays its own.
        """
        prefix = generated_id_prefix(class_name)
        self.registry.lock(f"{prefix}-*")
        taken = {row["model_id"] for row in self.registry.list(search=f"{prefix}-", latest_only=True)}
        while True:
            model_id = generate_model_id(class_name, taken)
            if self.registry.allocate_version(model_id, prefer=1) == 1:
                return model_id
            taken.add(model_id)

    def _new_version_id(self, model_id: str) -> str:
        """Check an id about to get a new version, before any work is done."""
        model_id = validate_model_id(model_id)
        if model_id not in self._trained:  # checked when this session trained it (and again under the lock)
            self.registry.refuse_case_conflict(model_id)
        return model_id


def _n_features(estimator: Any, X: Any) -> int:
    n = getattr(estimator, "n_features_in_", None)
    if n is not None:
        return int(n)
    shape = getattr(X, "shape", None)
    return int(shape[1]) if shape is not None and len(shape) > 1 else 1


def _train_result(row: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("model_id", "version", "model_class", "model_module", "model_params", "task_type",
            "train_score", "validation_score", "scoring", "training_samples", "validation_samples",
            "feature_count", "feature_names", "training_date", "fit_seconds", "status",
            "data_fingerprint", "parent")
    return {k: row[k] for k in keys}
