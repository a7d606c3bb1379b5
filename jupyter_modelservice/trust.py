"""Whether a version may be deserialized: the registry database is the root of trust.

A version saved through the registry has ``trust`` NULL: its sha256 was
recorded when this package wrote the file. A version whose record came from
a file in the models folder or an archive (``rebuild-index``, ``verify
--repair``, ``import``) is ``'unverified'``: its file matches the hash those
files carry, but anyone able to write them could have chosen both. Every load
refuses it (`UnverifiedModelError`, nothing deserialized) until a person
confirms it with `confirm` (``modelservice trust REF``, ``service.trust(ref)``),
which records a ``trusted`` event with who did it; ``trust_unverified=True``
loads it once without confirming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .exceptions import ArtifactIntegrityError, UnverifiedModelError
from .formatting import format_timestamp
from .ids import ModelVersion

__all__ = ["UNVERIFIED", "VERIFIED", "confirm", "origin", "refuse_unverified"]

UNVERIFIED = "unverified"
VERIFIED = "verified"

_SIGNATURE = {
    "invalid": "its team signature does not match it",
    "another key": "it was signed with another team key than the one set here",
    "no key": "MODELSERVICE_SIGNING_KEY is not set here to check its signature",
    "unsigned": "it carries no team signature",
}


def origin(registry: Any, row: Mapping[str, Any]) -> str:
    """Where an unverified version's record came from, from its history, in one phrase."""
    for event in reversed(registry.events(row["model_id"], row["version"])):
        details = event.get("details") if isinstance(event.get("details"), dict) else {}
        if event["event"] == "restored" and details.get("from") == "sidecar":
            text = f"it was restored by rebuild-index from the sidecar {details.get('path')}"
        elif event["event"] == "imported" and "archive" in details:
            text = f"it was imported from {details.get('archive')} (exported as {details.get('original')})"
        elif event["event"] == "repaired" and details.get("from") == "sidecar":
            text = (f"its file {details.get('path')} was put back by verify --repair on the word of its "
                    "sidecar")
        else:
            continue
        signature = _SIGNATURE.get(details.get("signature") or "")
        when = format_timestamp(str(event.get("at") or ""))
        return f"{text} by {event.get('actor')} at {when}" + (f"; {signature}" if signature else "")
    return "its record did not come from a save in this registry"


def refuse_unverified(registry: Any, ref: ModelVersion, row: Mapping[str, Any]) -> None:
    """`UnverifiedModelError` for an unverified version, saying what it is and how to confirm it."""
    if row.get("trust") != UNVERIFIED:
        return
    text = str(ref)
    raise UnverifiedModelError(
        f"{text} is unverified: {origin(registry, row)}. Its file {row.get('file_path')} has sha256 "
        f"{row.get('file_sha256')}, but no save in this registry recorded that hash, so nothing was "
        f"loaded. Check what it is and where it came from: `modelservice trust {text}` shows its "
        "metadata and history, then asks you to confirm it; from Python, service.trust("
        f"{text!r}) confirms it, or load_model({text!r}, trust_unverified=True) loads it once.",
        text,
    )


def confirm(files: Any, ref: ModelVersion, row: Mapping[str, Any]) -> dict[str, Any]:
    """Mark a version verified after checking its file against the recorded sha256; return the row.

    Records a ``trusted`` event (actor, sha256, origin). The update is
    conditional: if the row changed since ``row`` was read (another file,
    another trust), nothing is written and `ArtifactIntegrityError` asks to
    look again. A version that is not unverified is returned unchanged.
    """
    if row.get("trust") != UNVERIFIED:
        return dict(row)
    if row.get("file_path"):
        files.read_bytes(ref, row)  # ArtifactIntegrityError when the file changed since it was restored
    details = {"sha256": row.get("file_sha256"), "was": UNVERIFIED, "origin": origin(files.registry, row)}
    registry = files.registry
    with files.atomic():
        if registry.lock_row(*ref, expect={"trust": UNVERIFIED, "file_sha256": row.get("file_sha256")}) is None:
            raise ArtifactIntegrityError(
                f"{ref} changed while it was being confirmed (another file or another decision); "
                "look at it again before trusting it."
            )
        registry.set_values(*ref, {"trust": VERIFIED})
        registry.record_event(*ref, "trusted", details)
        return registry.get(*ref)
