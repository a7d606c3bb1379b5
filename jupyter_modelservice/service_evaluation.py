"""Evaluations as records, for `ModelService`: store, reuse, compare stored results, compare CVs, diff.

`ModelService` inherits `EvaluationRecords`. Every evaluation on test data
(`evaluate_model`, `compare_models`, and so ``%evaluate``, ``%compare`` and
the panels) is stored as a row of ``evaluations``: the version, the
fingerprint of ``(X_test, y_test)``, ``n_samples``, the metrics, when and
by whom, a digest of the predictions and, within a size bound, the
predictions themselves (`jupyter_modelservice.evaluation.records`). The
version's ``metrics`` column keeps the latest, in the same transaction.

Evaluating a version again on data with a fingerprint it was already
evaluated on reuses that row: nothing is loaded or predicted, unless
``refresh=True``. Cross-validations recorded on a version (`cross_validate_model`
with ``model_id``) are rows of kind ``"cv"`` with their splitter and folds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

from . import provenance, training
from .evaluation import records
from .exceptions import ArtifactError, InvalidInputError, NoModelError

if TYPE_CHECKING:
    from .ids import ModelVersion
    from .model_files import ModelFiles
    from .parallel import ParallelConfig
    from .registry import Registry

__all__ = ["Evaluated", "EvaluationRecords"]

#: A version and its registry row, as `ModelService._lookup` returns them.
LookedUp = tuple["ModelVersion", dict[str, Any]]


class Evaluated(NamedTuple):
    """One version evaluated on one data set: its metrics and (when asked for) predictions."""

    ref: ModelVersion
    row: dict[str, Any]
    metrics: dict[str, Any]
    predictions: dict[str, Any] | None
    reused: bool
    evaluation_id: int


class EvaluationRecords:
    """The evaluation-record methods of `ModelService` (see the module docstring)."""

    registry: Registry
    files: ModelFiles
    parallel: ParallelConfig

    if TYPE_CHECKING:
        def _lookup(self, model_id: Any, version: Any = None) -> LookedUp: ...
        def _estimator(self, ref: ModelVersion, row: dict[str, Any], trusted: Iterable[str] = (),
                       trust_unverified: bool = False) -> Any: ...
        def _set_values(self, ref: ModelVersion, values: Any) -> dict[str, Any]: ...

    # -- evaluating with reuse ---------------------------------------------
    def _evaluate_versions(self, looked_up: Sequence[LookedUp], X: Any, y: Any, *, task_type: str | None = None,
                           refresh: bool = False, need_predictions: bool = False,
                           progress: training.ProgressCallback | None = None,
                           parallel: bool = False) -> tuple[list[Evaluated], str]:
        """Evaluate versions on checked ``(X, y)``, reusing stored evaluations of the same data.

        A version with a stored evaluation on this data (and, when
        ``need_predictions``, its stored predictions) is neither loaded nor
        asked to predict, unless ``refresh``. The others are evaluated (under
        the parallel backend when ``parallel``) and recorded. Returns the
        results in the order given, and the data's fingerprint.
        """
        from .evaluation import evaluate_estimator

        fingerprint = provenance.data_fingerprint(X, y)
        results: list[Evaluated | None] = [None] * len(looked_up)
        done = 0
        todo = []
        for i, (ref, row) in enumerate(looked_up):
            stored = None if refresh else self._stored(ref, row, fingerprint, task_type, need_predictions)
            if stored is None:
                todo.append(i)
                continue
            results[i] = stored
            done += 1
            if progress is not None:
                progress(done, len(looked_up))
        jobs = []
        for i in todo:
            ref, row = looked_up[i]
            estimator = self._estimator(ref, row)
            jobs.append((estimator, X, y, task_type or row.get("task_type") or training.infer_task(estimator, y)))
        run = partial(evaluate_estimator, return_predictions=True)
        evaluated = self.parallel.starmap(run, jobs) if parallel else (run(*job) for job in jobs)
        for i, job, metrics in zip(todo, jobs, evaluated):
            ref, row = looked_up[i]
            predictions = metrics.pop("predictions")
            record = records.test_record(ref.model_id, ref.version, job[3], fingerprint, metrics, predictions)
            with self.files.atomic():
                evaluation_id = self.registry.add_evaluation(record)
                self._set_values(ref, {"metrics": metrics})
            results[i] = Evaluated(ref, row, metrics, predictions, False, evaluation_id)
            done += 1
            if progress is not None:
                progress(done, len(looked_up))
        return [r for r in results if r is not None], fingerprint

    def _stored(self, ref: ModelVersion, row: dict[str, Any], fingerprint: str, task_type: str | None,
                need_predictions: bool) -> Evaluated | None:
        """The newest stored evaluation of ``ref`` on this data, usable as it is, else None."""
        task = task_type or row.get("task_type")
        found = self.registry.evaluations(ref.model_id, ref.version, kind="test", data_fingerprint=fingerprint,
                                          predictions=need_predictions, limit=1)
        if not found or (task is not None and found[0]["task_type"] != task):
            return None
        record = found[0]
        predictions = records.predictions_of(record) if need_predictions else None
        if need_predictions and predictions is None:
            return None
        metrics = dict(record["metrics"] or {})
        if row.get("metrics") != metrics:  # the version's metrics column keeps the latest evaluation
            self._set_values(ref, {"metrics": metrics})
        return Evaluated(ref, row, metrics, predictions, True, record["evaluation_id"])

    def _with_significance(self, frame: Any, evaluated: Sequence[Evaluated], y: Any, *, alpha: float,
                           n_bootstrap: int, random_state: int, fingerprint: str) -> Any:
        """`add_significance` on ``frame``, reusing the bootstrap values kept with the evaluations.

        Each version's bootstrap values of the ranked metric depend only on its
        predictions, the data, ``n_bootstrap`` and the seed: they are kept
        with its evaluation (`Registry.add_resamples`) and reused by the next
        comparison on the same data, whatever the other versions are.
        """
        import numpy as np

        from .evaluation import add_significance
        from .evaluation.significance import RESAMPLING

        ids = {str(e.ref): e for e in evaluated}
        key = None
        if _plain_int(n_bootstrap) and _plain_int(random_state) and -2**63 <= random_state < 2**63:
            key = (str(frame.attrs["metric"]), int(n_bootstrap), int(random_state), RESAMPLING)
        bootstrap: dict[str, Any] = {}
        if key is not None:
            kept = self.registry.resamples([e.evaluation_id for e in evaluated], key)
            bootstrap = {ref: np.frombuffer(kept[e.evaluation_id], dtype="<f8")
                         for ref, e in ids.items() if e.evaluation_id in kept}
        known = set(bootstrap)
        frame = add_significance(frame, y, {ref: e.predictions or {} for ref, e in ids.items()}, alpha=alpha,
                                 n_bootstrap=n_bootstrap, random_state=random_state, data_fingerprint=fingerprint,
                                 bootstrap=bootstrap)
        new = [ref for ref in bootstrap if ref not in known]
        if key is not None and new:
            with self.registry.atomic():
                for ref in new:
                    e = ids[ref]
                    self.registry.add_resamples(e.ref.model_id, e.evaluation_id, key,
                                                np.asarray(bootstrap[ref], dtype="<f8").tobytes())
        return frame

    # -- reading and comparing stored results --------------------------------
    def evaluations(self, model_id: str, version: int | None = None, *,
                    kind: str | None = None) -> list[dict[str, Any]]:
        """The evaluation records of a version, newest first.

        Each is a dict: ``evaluation_id``, ``model_id``, ``version``, ``kind``
        (``"test"``, or ``"cv"`` for a recorded cross-validation),
        ``task_type``, ``data_fingerprint`` and ``n_samples`` of the data,
        ``metrics``, ``details`` (classes; for CV the splitter, fold sizes and
        per-fold scores), ``predictions_sha256`` (digest of the predictions),
        ``predictions_stored``, ``evaluated_at`` and ``actor``.

        Examples
        --------
        >>> service.evaluate_model(X_test, y_test, "rf")               # doctest: +SKIP
        >>> service.evaluations("rf")[0]["data_fingerprint"]          # doctest: +SKIP
        'sha256:4f0c...'
        """
        ref, _ = self._lookup(model_id, version)
        return self.registry.evaluations(ref.model_id, ref.version, kind=kind)

    def compare_evaluations(self, model_ids: Iterable[str], *, data_fingerprint: str | None = None,
                            metric: str | None = None) -> Any:
        """Rank versions by their stored test metrics, on data they were all evaluated on.

        Nothing is loaded or predicted. The data is the newest one every
        version has an evaluation on (or ``data_fingerprint``); results
        computed on different data are never ranked together:
        `IncompatibleModelsError` names each version's fingerprints. The
        DataFrame is sorted best first by ``metric`` like `compare_models`,
        without intervals or p-values (those need the test labels, which are
        not stored: `compare_models` with ``X_test, y_test`` adds them and
        reuses the stored predictions). ``frame.attrs`` holds ``stored=True``,
        ``data_fingerprint``, ``n_samples`` and a ``note``.
        """
        from .evaluation import comparison_frame

        looked_up = self._looked_up(model_ids)
        found = {str(ref): self.registry.evaluations(ref.model_id, ref.version, kind="test") for ref, _ in looked_up}
        fingerprint = records.common_fingerprint(found, data_fingerprint=data_fingerprint)
        rows, n_samples = [], None
        for ref, row in looked_up:
            record = next(r for r in found[str(ref)] if r["data_fingerprint"] == fingerprint)
            n_samples = record["n_samples"]
            rows.append({"model_id": ref.model_id, "version": ref.version, "model_class": row["model_class"],
                         "task_type": record["task_type"], **(record["metrics"] or {})})
        frame = comparison_frame(rows, metric=metric)
        frame.attrs.update(
            stored=True, data_fingerprint=fingerprint, n_samples=n_samples,
            note=(f"Stored test metrics, all on the same data ({records.short_fingerprint(fingerprint)}, "
                  f"n = {n_samples}); no paired test without the test labels: compare_models(refs, X_test, "
                  "y_test) adds intervals and p-values and reuses the stored predictions."))
        return frame

    def compare_cv(self, model_ids: Iterable[str], *, scoring: str | None = None, alpha: float = 0.05) -> Any:
        """Compare recorded cross-validations of versions with the corrected resampled t-test.

        The versions must have been cross-validated on the same folds of the
        same data (`cross_validate_model` with ``model_id``, or ``%train ...
        --cv K``: the splitter is fixed and seeded, so this holds by default).
        Each is tested against the best mean score with the corrected
        resampled t-test (Nadeau & Bengio: the variance of the fold
        differences × (1/k + n_test/n_train)), Holm-adjusted across the others.
        Different data, splitter or folds raise `IncompatibleModelsError`
        naming the difference.

        Returns
        -------
        pandas.DataFrame
            ``model_id``, ``version``, ``model_class``, ``scoring``,
            ``mean_score``, ``std_score``, ``n_folds``, ``fold_scores``,
            ``p_value``, ``tied_with_best``, best first; ``frame.attrs``
            holds the test, ``alpha``, ``n_train``, ``n_test``, the splitter
            and the data fingerprint.
        """
        from .evaluation.cv_compare import choose_records, cv_comparison_frame

        looked_up = self._looked_up(model_ids)
        found = {str(ref): self.registry.evaluations(ref.model_id, ref.version, kind="cv") for ref, _ in looked_up}
        chosen, scoring = choose_records(found, scoring)
        return cv_comparison_frame({str(ref): (row, chosen[str(ref)]) for ref, row in looked_up}, scoring,
                                   alpha=alpha)

    def _record_cv(self, ref: ModelVersion, X: Any, y: Any, result: dict[str, Any]) -> None:
        """Store a cross-validation on ``ref``: its ``cv_scores`` column and an evaluation row of kind "cv"."""
        from .evaluation.cv_compare import cv_record

        kept = ("cv_scores", "mean_score", "std_score", "scoring", "cv_folds", "splitter", "folds_digest",
                "train_sizes", "test_sizes", "data_fingerprint")
        record = cv_record(ref.model_id, ref.version, result["task_type"], result["data_fingerprint"], len(y), result)
        with self.files.atomic():
            self.registry.add_evaluation(record)
            self._set_values(ref, {"cv_scores": {k: result[k] for k in kept}})

    def _looked_up(self, model_ids: Iterable[str]) -> list[LookedUp]:
        if isinstance(model_ids, str):
            model_ids = [model_ids]
        looked_up = [self._lookup(m) for m in model_ids]
        if not looked_up:
            raise InvalidInputError("Name at least one model id to compare.")
        return looked_up

    # -- diff --------------------------------------------------------------
    def diff(self, a: str, b: str, X: Any = None, y: Any = None, *, alpha: float = 0.05, n_bootstrap: int = 1000,
             random_state: int = 0, refresh: bool = False) -> dict[str, Any]:
        """What differs between two versions, and only that.

        Returns a dict: ``a``, ``b`` (the resolved ``"id:version"``);
        ``model`` (class, module, task), ``params`` (parameters, nested ones
        as flat ``step__param`` names), ``data`` (training data fingerprint
        and shape, split), ``environment`` (library versions) and ``metrics``
        (stored scores, compared only on the same data): each a list of
        ``(name, a, b)``; ``notes`` on what was left out and why. With ``X``:
        ``n_rows``, ``disagreements`` (rows whose predictions differ) and
        ``disagreement_index`` (their index labels for a DataFrame, else
        positions). With ``y`` too: ``metric_differences`` (per metric ``a``,
        ``b``, ``difference`` = b − a, its paired bootstrap interval
        ``ci_low``/``ci_high`` and ``p_value``), ``data_fingerprint``; the two
        evaluations are recorded (or reused) as by `evaluate_model`.

        Examples
        --------
        >>> service.diff("pipe:1", "pipe:2")["params"]                 # doctest: +SKIP
        [('logisticregression__C', 1.0, 0.1)]
        """
        from .evaluation.diff import changed, disagreements, flat_params, score_differences, version_differences
        from .evaluation.significance import paired_differences
        from .metric_names import metrics_for

        (ref_a, row_a), (ref_b, row_b) = self._lookup(a), self._lookup(b)
        refs = (str(ref_a), str(ref_b))
        result: dict[str, Any] = {"a": refs[0], "b": refs[1], **version_differences(row_a, row_b)}
        notes: list[str] = []
        estimators = []
        for ref, row in ((ref_a, row_a), (ref_b, row_b)):
            try:
                estimators.append(self._estimator(ref, row))
            except (NoModelError, ArtifactError) as err:
                if X is not None:
                    raise
                notes.append(f"Parameters from the registry (top level only): {ref} could not be loaded ({err}).")
        if len(estimators) == 2:
            result["params"] = changed(flat_params(estimators[0]), flat_params(estimators[1]))
        else:
            result["params"] = changed(row_a.get("model_params") or {}, row_b.get("model_params") or {})
        tests = [self.registry.evaluations(ref.model_id, ref.version, kind="test") for ref in (ref_a, ref_b)]
        result["metrics"], score_notes = score_differences(row_a, row_b, tests[0], tests[1], refs)
        notes += score_notes
        if X is not None:
            task = row_a.get("task_type") or training.infer_task(estimators[0], y)
            if y is not None:
                X, y = training.check_xy(X, y)
                evaluated, fingerprint = self._evaluate_versions([(ref_a, row_a), (ref_b, row_b)], X, y,
                                                                 refresh=refresh, need_predictions=True)
                predictions = [e.predictions or {} for e in evaluated]
                differences = paired_differences(y, predictions[0], predictions[1], evaluated[0].metrics,
                                                 evaluated[1].metrics, metrics_for(task), alpha=alpha,
                                                 n_bootstrap=n_bootstrap, random_state=random_state)
                result.update(data_fingerprint=fingerprint, n_samples=len(y), alpha=alpha,
                              metric_differences=[asdict(d) for d in differences])
                y_pred = [p["y_pred"] for p in predictions]
            else:
                y_pred = [_predict(est, X, ref) for est, ref in zip(estimators, refs)]
            count, index = disagreements(y_pred[0], y_pred[1], task, getattr(X, "index", None))
            result.update(n_rows=len(y_pred[0]), disagreements=count, disagreement_index=index)
        result["notes"] = notes
        return result


def _plain_int(value: Any) -> bool:
    import numbers

    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _predict(estimator: Any, X: Any, ref: str) -> Any:
    try:
        return estimator.predict(X)
    except (ValueError, TypeError) as err:
        raise InvalidInputError(f"{ref} cannot predict on X: {err}") from err
