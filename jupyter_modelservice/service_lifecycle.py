"""The governed lifecycle of `ModelService`: promotion with evidence, rollback, lineage,
reproduction, model cards and the history of a version.

A mixin of `ModelService` (like `service_evaluation.EvaluationRecords`): it
uses the service's registry, model files and lookups, and holds no state of
its own. The rules themselves (evidence, rollback chains, time travel) live in
`lifecycle`; reproducing a version in `reproduction`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from . import training
from .exceptions import ModelNotFoundError, ModelServiceError, NoModelError
from .ids import ModelVersion, parse_ref, validate_model_id
from .model_files import ModelFiles
from .registry import Registry

__all__ = ["Lifecycle"]


class Lifecycle:
    """The lifecycle methods of `ModelService` (see the module docstring)."""

    registry: Registry
    files: ModelFiles

    if TYPE_CHECKING:
        def _lookup(self, model_id: Any, version: Any = None) -> tuple[ModelVersion, dict[str, Any]]: ...
        def _estimator(self, ref: ModelVersion, row: dict[str, Any], trusted: Iterable[str] = (),
                       trust_unverified: bool = False) -> Any: ...
        def _refresh(self, row: Any) -> dict[str, Any]: ...

    def promote(self, model_id: str, *, version: int | None = None, X_test: Any = None, y_test: Any = None,
                require_better: bool = False, alpha: float = 0.05) -> dict[str, Any]:
        """Put a saved version in production (demoting the previous one), with its evidence.

        With ``X_test``/``y_test`` the challenger is first compared with the
        version in production by the paired test of `compare_models`; the
        metric, both values, the p-value, the test and the data fingerprint are
        recorded in the history event of the promotion (with who and when).
        ``require_better=True`` raises `PromotionRefusedError` unless the
        challenger is significantly better. Returns the updated row.
        """
        from . import lifecycle

        ref, row = self._lookup(model_id, version)
        if not row.get("file_path") or row.get("artifact_state") != "ready":
            raise NoModelError(f"{ref} has no saved file; call save_model({str(ref)!r}) before promoting it.")
        current = self.registry.list(model_id=ref.model_id, status="production")
        champion = f"{ref.model_id}:{current[0]['version']}" if current else None
        evidence = lifecycle.promotion_evidence(self, str(ref), champion, X_test, y_test,
                                                require_better=require_better, alpha=alpha)
        with self.files.atomic():
            self.registry.set_status(*ref, "production", details={"promotion": evidence})
            row = self.registry.get(*ref)
        return self._refresh(row)

    def rollback(self, model_id: str) -> str:
        """Put back in production the version that was there before the current one; return ``"id:N"``.

        The chain comes from the append-only history, so rolling back twice goes
        back two steps. Versions without a saved file are skipped; `NoModelError`
        when there is nothing to go back to.
        """
        from . import lifecycle

        model_id = validate_model_id(model_id)
        current = self.registry.list(model_id=model_id, status="production")
        if not current:
            self.registry.get(model_id)  # ModelNotFoundError for an unknown id
            raise NoModelError(f"{model_id} has no version in production: there is nothing to roll back.")
        now = current[0]["version"]
        alive = {r["version"] for r in self.registry.list(model_id=model_id)
                 if r.get("file_path") and r.get("artifact_state") == "ready"}
        try:
            target = lifecycle.rollback_target(self.registry.events(model_id, kinds=["status"]), now, alive)
        except ModelServiceError as err:
            raise NoModelError(f"Cannot roll back {model_id}:{now}: {err}") from err
        with self.files.atomic():
            self.registry.set_status(model_id, target, "production",
                                     details={"rollback": True, "from_version": now})
            self._refresh(self.registry.get(model_id, target))
        return f"{model_id}:{target}"

    def lineage(self, model_id: str, version: int | None = None) -> list[str]:
        """The chain of ``"id:N"`` from this version back to its root, following ``parent``.

        A parent that was deleted ends the chain (its reference is kept last).
        """
        ref, row = self._lookup(model_id, version)
        chain, seen = [str(ref)], {str(ref)}
        while row.get("parent"):
            parent = str(row["parent"])
            if parent in seen:  # a cycle written by hand into the database: stop
                break
            chain.append(parent)
            seen.add(parent)
            try:
                row = self._lookup(parse_ref(parent))[1]
            except ModelNotFoundError:
                break
        return chain

    def reproduce(self, model_id: str, X: Any, y: Any, *, atol: float = 1e-9) -> dict[str, Any]:
        """Retrain a version on its data and say whether it gives the same predictions.

        Checks ``(X, y)`` against the training data fingerprint recorded with
        the version; when it matches, refits an unfitted clone of the stored
        model (class and every parameter) on the recorded training split and
        compares its predictions on ``X`` with the stored model's. The outcome
        is recorded in the version's history (a ``reproduced`` event).

        Returns
        -------
        dict
            ``ref``; ``data_matches`` and ``data_differences`` (how the data
            differs: rows, columns or values); ``predictions_match`` (None
            when the data differs: nothing was refitted), ``outcome``
            (``identical``, ``within_tolerance`` or ``different``),
            ``max_abs_diff`` (over predictions and probabilities),
            ``n_different`` (rows whose prediction differs beyond ``atol``)
            and ``n_rows``.

        Examples
        --------
        >>> service.reproduce("forest:1", X_train, y_train)["outcome"]     # doctest: +SKIP
        'identical'
        """
        from . import reproduction

        ref, row = self._lookup(model_id)
        X, y = training.check_xy(X, y, row.get("task_type"))
        differences = reproduction.data_differences(row, X, y)
        result: dict[str, Any] = {"ref": str(ref), "data_matches": not differences,
                                  "data_differences": differences, "predictions_match": None,
                                  "outcome": None, "max_abs_diff": None, "n_different": None, "n_rows": None}
        if differences:
            return result
        stored = self._estimator(ref, row)
        refitted = reproduction.refit(stored, row, X, y)
        result.update(reproduction.compare_predictions(stored, refitted, X, atol=atol))
        result["predictions_match"] = result["outcome"] != "different"
        self.registry.record_event(ref.model_id, ref.version, "reproduced", {
            k: result[k] for k in ("outcome", "max_abs_diff", "n_different", "n_rows")})
        return result

    def model_card(self, model_id: str, version: int | None = None) -> str:
        """A deterministic Markdown card of a version: what it is, data, non-default parameters,
        scores with the data they were computed on, lineage, status history, file hash, libraries.

        The same registry content gives a byte-identical card.
        """
        from .model_card import model_card

        ref, row = self._lookup(model_id, version)
        records = getattr(self, "evaluations", None)
        return model_card({**row, "relative_path": row.get("file_path")},
                          history=self.registry.events(ref.model_id, ref.version),
                          lineage=self.lineage(str(ref)),
                          evaluations=records(str(ref)) if callable(records) else ())

    def production_at(self, model_id: str, when: Any) -> str | None:
        """``"id:N"`` of the version that was in production at ``when`` (datetime, date or ISO text), or None."""
        from . import lifecycle

        model_id = validate_model_id(model_id)
        version = lifecycle.production_at_time(self.registry.events(model_id), model_id, when)
        return None if version is None else f"{model_id}:{version}"

    def model_history(self, model_id: str, version: int | None = None) -> list[dict[str, Any]]:
        """Status events (registered, promotions, archiving, deletion), oldest first."""
        ref = parse_ref(model_id, version)
        return self.registry.events(ref.model_id, ref.version)
