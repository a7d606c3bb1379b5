"""`model_card`: a deterministic Markdown description of one registered version.

Same registry content → byte-identical card: nothing in it depends on the
clock, the machine or dict ordering. Metadata never causes an import: default
parameters are looked up only for scikit-learn classes (to list the
non-default ones first); other classes list every parameter.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["model_card"]


def _value(value: Any) -> str:
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _cell(value: Any) -> str:
    return _value(value).replace("|", "\\|").replace("\n", " ")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def _defaults(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The constructor defaults of a scikit-learn class (None for other modules: no import)."""
    module, name = str(row.get("model_module") or ""), str(row.get("model_class") or "")
    if not module.startswith("sklearn.") or not name.isidentifier():
        return None
    import importlib
    import inspect

    try:
        cls = getattr(importlib.import_module(module), name)
        return {k: p.default for k, p in inspect.signature(cls).parameters.items()
                if p.default is not inspect.Parameter.empty}
    except Exception:  # noqa: BLE001 - a card is still useful without the defaults
        return None


def _same(stored: Any, default: Any) -> bool:
    try:
        return bool(stored == default) or json.dumps(stored, default=str) == json.dumps(default, default=str)
    except Exception:  # noqa: BLE001 - array-like defaults
        return False


def model_card(row: Mapping[str, Any], *, history: Sequence[Mapping[str, Any]] = (),
               lineage: Sequence[str] = (), evaluations: Sequence[Mapping[str, Any]] = ()) -> str:
    """The Markdown card of a registry ``row`` with its ``history``, ``lineage`` and ``evaluations``."""
    ref = f"{row['model_id']}:{row['version']}"
    out = [f"# {ref} — {row.get('model_class')}", ""]
    out += [f"{row.get('model_class')} from `{row.get('model_module')}`, a {row.get('task_type') or 'model'} "
            f"trained on {row.get('training_date')}; status **{row.get('status')}**.", ""]
    out += ["## Data", ""]
    out += _table(["what", "value"], [
        ["data fingerprint", row.get("data_fingerprint") or "—"],
        ["training samples", row.get("training_samples")], ["validation samples", row.get("validation_samples")],
        ["features", row.get("feature_count")],
        ["split", row.get("training_config") or "—"],
    ]) + [""]
    params = dict(row.get("model_params") or {})
    defaults = _defaults(row)
    out += ["## Parameters", ""]
    if defaults is None:
        out += _table(["parameter", "value"], sorted(params.items())) + [""]
    else:
        changed = sorted((k, v) for k, v in params.items() if k not in defaults or not _same(v, defaults[k]))
        out += (_table(["parameter", "value"], changed) if changed else ["All parameters have their defaults."])
        out += ["", f"{len(params) - len(changed)} other parameters have their defaults.", ""]
    out += ["## Scores", ""]
    scores = [["train", row.get("scoring"), row.get("train_score"), "—"],
              ["validation", row.get("scoring"), row.get("validation_score"), "—"]]
    cv = row.get("cv_scores") or {}
    if isinstance(cv, dict) and cv.get("mean_score") is not None:
        scores.append([f"{cv.get('cv_folds')}-fold CV", cv.get("scoring"),
                       f"{_value(cv.get('mean_score'))} ± {_value(cv.get('std_score'))}", row.get("data_fingerprint")])
    for evaluation in evaluations:
        metrics = evaluation.get("metrics") or {}
        for name in sorted(k for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)):
            if name == "n_samples":
                continue
            scores.append([f"test (n = {evaluation.get('n_samples')})", name, metrics[name],
                           evaluation.get("data_fingerprint")])
    out += _table(["on", "metric", "value", "data"], scores) + [""]
    if len(lineage) > 1:
        out += ["## Lineage", "", " ← ".join(f"`{r}`" for r in lineage), ""]
    out += ["## Status history", ""]
    out += _table(["when", "event", "from", "to", "who"],
                  [[e.get("at"), e.get("event"), e.get("from_status") or "—", e.get("to_status") or "—",
                    e.get("actor")] for e in history]) + [""]
    out += ["## File", ""]
    out += _table(["what", "value"], [
        ["format", row.get("file_format") or "not saved"], ["sha256", row.get("file_sha256") or "—"],
        ["bytes", row.get("file_bytes") or "—"], ["path in the models folder", row.get("relative_path")
                                                  or row.get("file_path") or "—"],
    ]) + [""]
    environment = row.get("environment") or {}
    out += ["## Library versions", ""]
    out += _table(["library", "version"], sorted(environment.items())) + [""]
    return "\n".join(out)
