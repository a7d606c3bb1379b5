"""Compare recorded cross-validations: the corrected resampled t-test on the same folds of the same data.

A cross-validation is recorded as an evaluation row of kind ``"cv"``
(`cv_record`): the fingerprint of the data, the splitter (class, n_splits,
shuffle, random_state), a digest of the folds' test rows, the fold sizes and
the per-fold scores of each scoring. Models are compared only when their
records share data, splitter and folds (`choose_records`); the test of each
against the best is the corrected resampled t-test of Nadeau & Bengio
(`significance.corrected_ttest`, variance × (1/k + n_test/n_train)),
Holm-adjusted across the others (`cv_comparison_frame`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..exceptions import IncompatibleModelsError, InvalidInputError
from .records import short_fingerprint
from .significance import corrected_ttest, holm

__all__ = ["TEST_NAME", "choose_records", "cv_comparison_frame", "cv_record", "describe_splitter"]

TEST_NAME = "corrected resampled t-test"


def cv_record(model_id: str, version: int, task_type: str, fingerprint: str, n_samples: int,
              result: Mapping[str, Any]) -> dict[str, Any]:
    """The evaluation row (kind ``"cv"``) of a `training.cross_validate` result recorded on a version."""
    scoring = result["scoring"]
    names = [scoring] if isinstance(scoring, str) else list(scoring)
    per_scoring = result.get("scores") or {names[0]: {"cv_scores": result["cv_scores"]}}
    scores = {name: [float(s) for s in per_scoring[name]["cv_scores"]] for name in names}
    return {
        "model_id": model_id, "version": version, "kind": "cv", "task_type": task_type,
        "data_fingerprint": fingerprint, "n_samples": int(n_samples),
        "metrics": {name: float(np.mean(values)) for name, values in scores.items()},
        "details": {"splitter": result["splitter"], "folds_digest": result["folds_digest"],
                    "train_sizes": result["train_sizes"], "test_sizes": result["test_sizes"],
                    "scores": scores, "model_class": result.get("model_class"),
                    "model_params": result.get("model_params")},
    }


def describe_splitter(splitter: Mapping[str, Any] | None) -> str:
    """``StratifiedKFold(n_splits=5, shuffle=True, random_state=0)``, or ``unknown splitter``."""
    if not splitter:
        return "unknown splitter"
    return (f"{splitter.get('class')}(n_splits={splitter.get('n_splits')}, shuffle={splitter.get('shuffle')}, "
            f"random_state={splitter.get('random_state')})")


def _key(record: Mapping[str, Any]) -> tuple[Any, ...]:
    details = record.get("details") or {}
    return (record["data_fingerprint"], json.dumps(details.get("splitter"), sort_keys=True),
            details.get("folds_digest"))


def _scorings(record: Mapping[str, Any]) -> list[str]:
    return list((record.get("details") or {}).get("scores") or {})


def choose_records(records: Mapping[str, Sequence[Mapping[str, Any]]],
                   scoring: str | None = None) -> tuple[dict[str, Mapping[str, Any]], str]:
    """One CV record per version, all on the same data and folds and scored with ``scoring``.

    ``records`` maps ``"model_id:version"`` to its CV records, newest first.
    The newest records that agree are chosen; ``scoring`` defaults to the
    first scoring of the first version's newest record. Returns the chosen
    records and the scoring. `InvalidInputError` when a version has no CV
    record; `IncompatibleModelsError` naming the difference (data, splitter,
    folds or scoring) when no records agree.
    """
    missing = [ref for ref, rows in records.items() if not rows]
    if missing:
        raise InvalidInputError(
            f"{', '.join(missing)} {'has' if len(missing) == 1 else 'have'} no recorded cross-validation "
            "with its folds: cross-validate on a version with cross_validate_model(model, X, y, "
            f"cv_folds=5, model_id={missing[0]!r}) or train with %train ... --cv 5, then compare."
        )
    refs = list(records)
    if scoring is None:
        scoring = _scorings(records[refs[0]][0])[0]
    for candidate in records[refs[0]]:
        if scoring not in _scorings(candidate):
            continue
        chosen: dict[str, Mapping[str, Any]] = {refs[0]: candidate}
        for ref in refs[1:]:
            match = next((r for r in records[ref] if _key(r) == _key(candidate) and scoring in _scorings(r)), None)
            if match is None:
                break
            chosen[ref] = match
        else:
            return chosen, scoring
    raise IncompatibleModelsError(
        f"Cannot compare the cross-validations of {', '.join(refs)}: {_difference(records, scoring)}. "
        "Cross-validate every model on the same data with the same number of folds "
        "(cross_validate_model(..., cv_folds=K, model_id=ref) or %train ... --cv K): the splitter is fixed "
        "and seeded, so the folds then match."
    )


def _difference(records: Mapping[str, Sequence[Mapping[str, Any]]], scoring: str) -> str:
    """What differs between the newest CV records of the versions, in words."""
    newest = {ref: rows[0] for ref, rows in records.items()}
    if len({r["data_fingerprint"] for r in newest.values()}) > 1:
        listing = "; ".join(f"{ref} on {short_fingerprint(r['data_fingerprint'])} (n = {r.get('n_samples')})"
                            for ref, r in newest.items())
        return f"they were cross-validated on different data ({listing})"
    splitters = {ref: (r.get("details") or {}).get("splitter") for ref, r in newest.items()}
    if len({json.dumps(s, sort_keys=True) for s in splitters.values()}) > 1:
        listing = "; ".join(f"{ref} with {describe_splitter(s)}" for ref, s in splitters.items())
        return f"they were cross-validated on different folds ({listing})"
    if len({(r.get("details") or {}).get("folds_digest") for r in newest.values()}) > 1:
        return ("the same splitter on the same data gave them different folds (recorded with different "
                "scikit-learn versions?); cross-validate them again in one environment")
    lacking = [ref for ref, r in newest.items() if scoring not in _scorings(r)]
    return f"{', '.join(lacking)} {'was' if len(lacking) == 1 else 'were'} not scored with {scoring!r}"


def cv_comparison_frame(chosen: Mapping[str, tuple[Mapping[str, Any], Mapping[str, Any]]], scoring: str, *,
                        alpha: float = 0.05) -> Any:
    """A DataFrame of the CV scores of each version, best mean first, with p-values against the best.

    ``chosen`` maps ``"model_id:version"`` to (registry row, CV record), as
    `choose_records` picked them. Columns: ``model_id``, ``version``,
    ``model_class``, ``scoring``, ``mean_score``, ``std_score``, ``n_folds``,
    ``fold_scores``, ``p_value`` (corrected resampled t-test against the best,
    Holm-adjusted; NaN for the best) and ``tied_with_best`` (``p_value >=
    alpha``; True for the best). ``frame.attrs`` holds the test, ``alpha``,
    ``n_train`` / ``n_test`` (mean fold sizes, used by the test), the
    splitter, the data fingerprint and ``n_samples``.
    """
    import pandas as pd

    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha must be between 0 and 1, got {alpha!r}.")
    rows = []
    for row, record in chosen.values():
        scores = [float(s) for s in record["details"]["scores"][scoring]]
        rows.append({"model_id": row["model_id"], "version": row["version"], "model_class": row["model_class"],
                     "scoring": scoring, "mean_score": float(np.mean(scores)), "std_score": float(np.std(scores)),
                     "n_folds": len(scores), "fold_scores": scores})
    frame = pd.DataFrame(rows).sort_values("mean_score", ascending=False, kind="stable").reset_index(drop=True)
    first = next(iter(chosen.values()))[1]
    details = first["details"]
    n_train = int(round(float(np.mean(details["train_sizes"]))))
    n_test = int(round(float(np.mean(details["test_sizes"]))))
    best = frame["fold_scores"].iloc[0]
    raw = [corrected_ttest(best, other, n_train, n_test) for other in frame["fold_scores"].iloc[1:]]
    p_values = [float("nan"), *holm(raw)]
    frame["p_value"] = p_values
    frame["tied_with_best"] = [True, *(bool(p >= alpha) for p in p_values[1:])]
    frame.attrs.update(metric=scoring, test=TEST_NAME, alpha=alpha, n_folds=len(best), n_train=n_train,
                       n_test=n_test, splitter=details["splitter"], folds_digest=details["folds_digest"],
                       data_fingerprint=first["data_fingerprint"], n_samples=first.get("n_samples"))
    return frame
