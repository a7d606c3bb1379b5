"""`ModelFiles`: a version's model file and JSON sidecar, kept in step with its registry row.

Save: serialize to a temp file → fsync (hashed meanwhile) → register the row as
``pending`` → atomic rename → mark ``ready`` (and write the sidecar). Read:
bytes once → sha256 checked against the row → deserialize from memory. The
sidecars are written inside the registry transaction that changes their row,
so concurrent writers of one id leave them as the database ends up.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from . import provenance
from .artifacts import formats
from .artifacts.local import sha256_bytes
from .exceptions import ArtifactError, ArtifactIntegrityError, EnvironmentMismatchWarning, StoreError
from .ids import ModelRef
from .registry import Registry
from .sidecar import sidecar_path, sidecar_text

__all__ = ["FILE_COLUMNS", "ModelFiles"]

#: The columns describing a version's model file.
FILE_COLUMNS = ("file_path", "file_format", "file_sha256", "file_bytes", "artifact_state")


class ModelFiles:
    """Model files of one store, registered in one registry."""

    def __init__(self, store: Any, registry: Registry) -> None:
        self.store = store
        self.registry = registry

    def save(self, ref: ModelRef, row: Mapping[str, Any], estimator: Any, save_format: str) -> dict[str, Any]:
        """Write ``estimator`` as the file of ``ref``; return the updated row.

        A failure before the rename restores the row's previous file columns
        and removes the temp file; a replaced file of another format is removed
        once the new one is in place.
        """
        relpath = formats.model_path(ref.model_id, ref.version, save_format)
        staged = self.store.stage(relpath, lambda fh: formats.dump(estimator, fh, save_format))
        before = {k: row[k] for k in FILE_COLUMNS}
        try:
            self.registry.update(ref.model_id, ref.version, {
                "file_path": relpath, "file_format": save_format, "file_sha256": staged.sha256,
                "file_bytes": staged.nbytes, "artifact_state": "pending",
            })
            self.store.publish(staged)
        except BaseException:
            self.store.discard(staged)
            self.registry.update(ref.model_id, ref.version, before)
            raise
        status = "saved" if row["status"] == "trained" else row["status"]
        updated = self.update_row(ref, {"artifact_state": "ready", "status": status})
        if before["file_path"] and before["file_path"] != relpath:
            self.store.delete(before["file_path"])
        return updated

    def read(self, ref: ModelRef, row: Mapping[str, Any], trusted: Iterable[str] = ()) -> Any:
        """The estimator in the file of ``ref``, after checking its sha256."""
        data = self.read_bytes(ref, row)
        _warn_environment(ref, row.get("environment") or {})
        return formats.loads(data, None, trusted)

    def read_bytes(self, ref: ModelRef, row: Mapping[str, Any]) -> bytes:
        """The bytes of the file of ``ref``, checked against the registered sha256.

        `ArtifactError` when the file is missing, `ArtifactIntegrityError` when
        its bytes differ from what was saved.
        """
        try:
            data = self.store.read_bytes(row["file_path"])
        except (ArtifactIntegrityError, StoreError):  # outside the store / store unreachable: say so
            raise
        except ArtifactError as err:
            state = "its save never completed" if row["artifact_state"] == "pending" else "it was removed"
            raise ArtifactError(
                f"The file of {ref} ({row['file_path']}) is missing: {state}. "
                "Save the model again or delete this version."
            ) from err
        digest = sha256_bytes(data)
        if digest != row["file_sha256"]:
            raise ArtifactIntegrityError(
                f"The file of {ref} ({row['file_path']}) does not match the sha256 registered "
                f"when it was saved (expected {row['file_sha256']}, found {digest}); it was "
                "changed or damaged after saving and was not loaded."
            )
        return data

    def public(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A row as the public API returns it: ``file_path`` opens the file, ``relative_path``
        is where it sits in the store (the registry keeps only the relative path, so the
        models folder can move)."""
        relpath = row.get("file_path")
        return {**row, "file_path": self.store.location(relpath) if relpath else None,
                "relative_path": relpath}

    def update_row(self, ref: ModelRef, values: Mapping[str, Any], **conditions: Any) -> dict[str, Any] | None:
        """Update a row (and demoted ones) with their sidecars in one transaction.

        ``conditions`` (``expect=``, ``event=``) are passed to `Registry.update`.
        A version keeps its sidecar while its file exists and after gc removed
        the file (``artifact_state`` ``"removed"``: the metadata is all that is left).
        """

        def write_sidecars(rows: list[dict[str, Any]]) -> None:
            for changed in rows:
                if changed.get("artifact_state") in ("ready", "removed"):
                    self.store.write_text(sidecar_path(changed["model_id"], changed["version"]),
                                          sidecar_text(changed))

        return self.registry.update(ref.model_id, ref.version, values, on_change=write_sidecars,
                                    **conditions)

    def delete(self, row: Mapping[str, Any]) -> None:
        """Remove the model file and sidecar of a deleted row."""
        if row["file_path"]:
            self.store.delete(row["file_path"])
        self.store.delete(sidecar_path(row["model_id"], row["version"]))


def _warn_environment(ref: ModelRef, saved: Mapping[str, str]) -> None:
    now = provenance.environment()
    changed = [f"{lib} {saved[lib]} → {now[lib]}" for lib in ("sklearn", "numpy")
               if lib in saved and lib in now and saved[lib] != now[lib]]
    if changed:
        warnings.warn(
            f"{ref} was saved with other library versions ({'; '.join(changed)}); "
            "predictions may differ. Retrain it with the current versions to be safe.",
            EnvironmentMismatchWarning,
            stacklevel=4,
        )
