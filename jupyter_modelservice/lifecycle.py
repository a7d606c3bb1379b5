"""Governed promotion: production with evidence, rollback and "what was in production then", from history.

Everything here reads the append-only ``model_events`` table: a promotion is a
``status`` event to ``production`` whose details carry the evidence; a rollback
is such an event with ``{"rollback": true, "from_version": N}``. Replaying those
events gives the chain of production versions, so a second rollback goes back
one more step instead of back and forth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from .exceptions import InvalidInputError, ModelServiceError, PromotionRefusedError

__all__ = ["as_of", "parse_when", "production_chain", "production_at_time", "promotion_evidence",
           "statuses_at"]


def parse_when(when: Any) -> datetime:
    """A moment as an aware UTC datetime: a datetime, a date (its end), or ISO-8601 text."""
    if isinstance(when, datetime):
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    if isinstance(when, date):
        return datetime.combine(when, time.max, tzinfo=UTC)
    if isinstance(when, str):
        text = when.strip()
        try:
            if len(text) == 10:  # a date: the state at the end of that day (UTC)
                return datetime.combine(date.fromisoformat(text), time.max, tzinfo=UTC)
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as err:
            raise InvalidInputError(f"Cannot read {when!r} as a date or time; write e.g. '2026-11-29' or "
                                    "'2026-11-29T14:30' (UTC unless it says otherwise).") from err
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise InvalidInputError(f"when must be a datetime, a date or ISO-8601 text, not {type(when).__name__}.")


def _at(event: Mapping[str, Any]) -> datetime:
    return parse_when(str(event["at"]))


def statuses_at(events: Sequence[Mapping[str, Any]], when: Any) -> dict[tuple[str, int], str]:
    """The status of every version that existed at ``when``, replayed from its history."""
    moment = parse_when(when)
    status: dict[tuple[str, int], str] = {}
    for event in events:
        if _at(event) > moment:
            continue
        key = (event["model_id"], event["version"])
        if event["event"] == "deleted":
            status.pop(key, None)
        elif event["event"] in ("registered", "restored", "imported") or event["event"] == "status":
            if event.get("to_status"):
                status[key] = event["to_status"]
    return status


def production_at_time(events: Sequence[Mapping[str, Any]], model_id: str, when: Any) -> int | None:
    """The version of ``model_id`` in production at ``when``, or None."""
    status = statuses_at([e for e in events if e["model_id"] == model_id], when)
    versions = [v for (_, v), s in status.items() if s == "production"]
    return max(versions) if versions else None


def production_chain(events: Sequence[Mapping[str, Any]]) -> list[int]:
    """The versions of one id that were put in production, oldest first, rollbacks undone.

    A promotion pushes its version; a rollback pops the version it left (and
    does not push the one it restored, which is already below it).
    """
    chain: list[int] = []
    for event in events:
        if event["event"] != "status" or event.get("to_status") != "production":
            continue
        raw = event.get("details")
        details = raw if isinstance(raw, dict) else {}
        if details.get("rollback"):
            while chain and chain[-1] != event["version"]:
                chain.pop()
            continue
        if chain and chain[-1] == event["version"]:
            continue
        chain.append(event["version"])
    return chain


def rollback_target(events: Sequence[Mapping[str, Any]], current: int, alive: set[int]) -> int:
    """The version that was in production before ``current`` (skipping versions no longer loadable)."""
    chain = production_chain(events)
    if current in chain:
        chain = chain[: len(chain) - chain[::-1].index(current) - 1]
    for version in reversed(chain):
        if version in alive and version != current:
            return version
    raise ModelServiceError(
        f"There is no earlier production version to roll back to (version {current} is the first one "
        "in production that still has a saved file); promote a version explicitly instead."
    )


def promotion_evidence(service: Any, challenger: str, champion: str | None, X_test: Any, y_test: Any, *,
                       require_better: bool, alpha: float) -> dict[str, Any]:
    """Compare ``challenger`` with the current production ``champion`` on the given data.

    Returns the evidence recorded with the promotion: metric, both values,
    p-value, test, data fingerprint, n. With ``require_better`` raises
    `PromotionRefusedError` unless the challenger is significantly better.
    """
    if X_test is None or y_test is None:
        if require_better:
            raise InvalidInputError("require_better=True needs X_test and y_test to compare the challenger "
                                    "with the version in production.")
        return {}
    if champion is None or champion == challenger:
        return {"compared_with": None, "reason": "no other version in production"}
    frame = service.compare_models([challenger, champion], X_test, y_test, alpha=alpha)
    metric, attrs = frame.attrs["metric"], frame.attrs
    rows = {f"{r.model_id}:{r.version}": r for r in frame.itertuples()}
    best = f"{frame.iloc[0]['model_id']}:{frame.iloc[0]['version']}"
    loser = champion if best == challenger else challenger
    p_value = float(rows[loser].p_value)
    evidence = {
        "compared_with": champion, "metric": metric,
        "challenger_value": float(getattr(rows[challenger], metric)),
        "champion_value": float(getattr(rows[champion], metric)),
        "p_value": p_value, "test": attrs.get("test"), "alpha": alpha, "n_samples": attrs.get("n_samples"),
        "data_fingerprint": attrs.get("data_fingerprint"),
        "significantly_better": best == challenger and p_value < alpha,
    }
    if require_better and not evidence["significantly_better"]:
        raise PromotionRefusedError(
            f"{challenger} was not promoted: on these {evidence['n_samples']} rows its {metric} is "
            f"{evidence['challenger_value']:.4f} against {evidence['champion_value']:.4f} for {champion} "
            f"in production ({evidence['test']}, p = {p_value:.3g}, alpha = {alpha:g}); it is not "
            "significantly better. Promote without require_better=True to override.",
            evidence,
        )
    return evidence


def as_of(rows: Sequence[Mapping[str, Any]], events: Sequence[Mapping[str, Any]], when: Any) -> list[dict[str, Any]]:
    """``rows`` as they stood at ``when``: versions registered later left out, statuses of then."""
    status = statuses_at(events, when)
    out = []
    for row in rows:
        then = status.get((row["model_id"], row["version"]))
        if then is not None:
            out.append({**row, "status": then})
    return out
