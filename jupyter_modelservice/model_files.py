"""`ModelFiles`: a version's model file and JSON sidecar, kept in step with its registry row.

Save: serialize to a temp file → fsync (hashed meanwhile) → register the row as
``pending`` → atomic rename → mark ``ready`` (and write the sidecar). Read:
bytes once → sha256 checked against the row → bytes checked to be of the
recorded format → deserialized from memory by that format's reader (joblib and
pickle only when the service allows pickle). The
sidecars are written inside the registry transaction that changes their row
(`ModelFiles.atomic`), so concurrent writers of one id leave them as the
database ends up. With the database store (``models_directory="db://"``) the
same save steps run in one transaction, which stores the bytes and marks the
version ready together; it keeps no sidecars.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from . import probe, provenance
from .artifacts import formats
from .artifacts.digests import ChunkDigests, blake3_bytes
from .artifacts.local import sha256_bytes
from .artifacts.store import Staged, Store
from .artifacts.verified_stream import ChunkMismatchError, VerifiedStream
from .exceptions import (
    ArtifactError,
    ArtifactIntegrityError,
    EnvironmentMismatchWarning,
    InvalidInputError,
    ModelNotFoundError,
    ModelServiceError,
    PickleNotAllowedError,
    StoreError,
)
from .ids import ModelVersion
from .registry import Registry
from .registry.database import FILE_COLUMNS
from .sidecar import sidecar_path, sidecar_text
from .trust import refuse_unverified

__all__ = ["ENV_ALLOW_PICKLE", "FILE_COLUMNS", "SAVE_STARTED", "ModelFiles", "pickle_allowed"]

#: Columns kept for the registry's own use, left out of public rows and history: the chunk digests
#: (up to 64 of them) only serve the check of a load.
_INTERNAL = frozenset({"file_chunks"})

#: Environment variable of a team's pickle policy: ``0`` refuses joblib/pickle files.
ENV_ALLOW_PICKLE = "MODELSERVICE_ALLOW_PICKLE"
_POLICY = f"allow_pickle=False, or {ENV_ALLOW_PICKLE}=0 in the environment"
_ENV_VALUES = {"1": True, "true": True, "yes": True, "on": True,
               "0": False, "false": False, "no": False, "off": False}

#: History event recorded when a save registers its new file as pending (it dates the save).
SAVE_STARTED = "save"


class ModelFiles:
    """Model files of one store, registered in one registry."""

    def __init__(self, store: Store, registry: Registry, allow_pickle: bool | None = None) -> None:
        self.store = store
        self.registry = registry
        self.allow_pickle = pickle_allowed(allow_pickle)

    def save(self, ref: ModelVersion, row: Mapping[str, Any], estimator: Any, save_format: str, *,
             values: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Write ``estimator`` as the file of ``ref``; return the updated row.

        ``values`` (other columns, e.g. the behaviour probe's predictions) are
        written in the transaction that registers the new file. A failure
        before the rename restores the row's previous file columns and removes
        the temp file; a replaced file of another format is removed once the
        new one is in place.
        """
        if save_format in formats.PICKLE_FORMATS and not self.allow_pickle:
            raise InvalidInputError(
                f"save_format={save_format!r} writes a pickle, which runs code when it is read, and "
                f"this service does not allow pickle ({_POLICY}); save it with "
                f"save_model({str(ref)!r}, save_format='skops')."
            )
        relpath = formats.model_path(ref.model_id, ref.version, save_format)
        staged = self.store.stage(relpath, lambda fh: formats.dump(estimator, fh, save_format))
        before = {k: row[k] for k in FILE_COLUMNS}
        # a replaced file is recorded, so that `verify --repair` can put it back on the database's word
        replacing: tuple[str, dict[str, Any]] | None = (
            ("resave", {"previous": {k: v for k, v in before.items() if k not in _INTERNAL}})
            if before["artifact_state"] == "ready" else None)
        # the event dates the pending state: `verify --repair` leaves a young pending row alone
        started = replacing or (SAVE_STARTED, {"path": relpath, "sha256": staged.sha256})
        model_id, version = ref
        pending = {"file_path": relpath, "file_format": save_format, "file_sha256": staged.sha256,
                   "file_bytes": staged.nbytes, "artifact_state": "pending", **staged.load_digests}
        if self.store.transactional:
            # the same steps in one transaction: the version is ready exactly when its bytes are stored
            with self.atomic():
                self.registry.set_file(model_id, version, pending)
                if values:
                    self.registry.set_values(model_id, version, values)
                self.registry.record_event(model_id, version, *started)
                updated = self.publish(ref, staged)
            assert updated is not None  # a transactional store marks the version ready
            return updated
        try:
            with self.registry.atomic():
                self.registry.set_file(model_id, version, pending)
                if values:
                    self.registry.set_values(model_id, version, values)
                self.registry.record_event(model_id, version, *started)
            self.store.publish(staged)
        except BaseException:
            self.store.discard(staged)
            self.registry.set_file(model_id, version, before)
            raise
        # ready only if the row still describes the file this save published (compare-and-set)
        mine = {"artifact_state": "pending", "file_path": relpath, "file_sha256": staged.sha256}
        updated = self.mark_ready(ref, expect=mine)
        if updated is None:
            updated = self._completed_elsewhere(ref, relpath, staged.sha256)
        if before["file_path"] and before["file_path"] != relpath:
            self.store.delete(before["file_path"])
        return updated

    def _completed_elsewhere(self, ref: ModelVersion, relpath: str, sha256: str) -> dict[str, Any]:
        """The row after another process changed it during this save: fine if it was only marked
        ready (e.g. by `verify --repair`), else `ArtifactError` (the save is not recorded)."""
        row = self.registry.get(ref.model_id, ref.version)
        if (row["artifact_state"], row["file_path"], row["file_sha256"]) == ("ready", relpath, sha256):
            return row
        raise ArtifactError(
            f"The save of {ref} was overtaken: while it wrote {relpath}, another process changed the "
            f"version's file record (now {row['file_path']!r}, {row['artifact_state']!r}), e.g. "
            "`modelservice verify --repair` cleared it as an interrupted save. The registry does not "
            f"point at the new file; call save_model({str(ref)!r}) again."
        )

    def read(self, ref: ModelVersion, row: Mapping[str, Any], trusted: Iterable[str] = (), *,
             trust_unverified: bool = False) -> Any:
        """The estimator in the file of ``ref``, deserialized only from bytes that match its digests.

        A file with registered chunk digests in a store that reads as it goes is
        checked chunk by chunk while it is deserialized (`VerifiedStream`); others
        are read whole and checked first (`read_bytes`). An unverified version (restored from a sidecar or
        imported) raises `UnverifiedModelError` unless ``trust_unverified`` is True.
        """
        if not trust_unverified:
            refuse_unverified(self.registry, ref, row)
        file_format = row["file_format"]
        if file_format in formats.PICKLE_FORMATS and not self.allow_pickle:
            raise PickleNotAllowedError(
                f"{ref} is saved as {file_format}, a pickle, which runs code when it is read; this "
                f"service does not allow pickle ({_POLICY}). To convert it, load it once where "
                f"pickle is allowed and save it as skops: ModelService(..., allow_pickle=True)"
                f".save_model({str(ref)!r}, save_format='skops')."
            )
        label = f"The file of {ref} ({row['file_path']})"
        if row.get("file_chunks") and isinstance(row.get("file_bytes"), int) and self.store.streams:
            estimator = self._load_streamed(ref, row, trusted, label)
        else:
            estimator = formats.loads(self.read_bytes(ref, row), file_format, trusted, label=label)
        self._check_behaviour(ref, row, estimator)
        return estimator

    def _load_streamed(self, ref: ModelVersion, row: Mapping[str, Any], trusted: Iterable[str], label: str) -> Any:
        """Deserialize the file of ``ref`` as `VerifiedStream` hands out its checked chunks."""
        chunks = ChunkDigests.from_text(row["file_chunks"])
        with self._reading(ref, row):
            raw = self.store.open(row["file_path"])
        try:
            with VerifiedStream(raw, chunks, row["file_bytes"], label) as stream:
                return formats.load_stream(stream, row["file_format"], trusted, label=label)
        except ChunkMismatchError:
            try:
                self.read_bytes(ref, row)
            except ArtifactIntegrityError as err:  # names the registered and the found sha256
                raise err from None
            raise ArtifactIntegrityError(
                f"{label} does not match the digests registered for its chunks, though a second read "
                "matches its registered sha256: it changed while it was read, or the registry's record "
                "of it is inconsistent. It was not loaded; load it again, and run `modelservice "
                "verify` if this persists."
            ) from None

    def _check_behaviour(self, ref: ModelVersion, row: Mapping[str, Any], estimator: Any) -> None:
        """Under other library versions than at save, predict the version's probe again: the same
        predictions are recorded once in its history (``behaviour_verified``), others (or no probe
        to tell) give an `EnvironmentMismatchWarning`."""
        changed = _changed_libraries(row.get("environment") or {})
        if not changed:
            return
        recorded = row.get("probe") or {}
        said = f"{ref} was saved with other library versions ({'; '.join(changed)})"
        if "predict" not in recorded:
            _warn(f"{said}; predictions may differ (it has no behaviour probe to check them). Retrain it "
                  "with the current versions to be safe.")
            return
        try:
            found = probe.changes(estimator, recorded)
        except Exception as err:  # noqa: BLE001 - the model cannot predict its probe any more: say so
            _warn(f"{said}, and it fails on its behaviour probe now ({type(err).__name__}: {err}). Retrain it "
                  "with the current versions.")
            return
        if found["changed"]:
            _warn(f"{said}; {found['changed']} of {found['n_rows']} predictions on its behaviour probe differ "
                  f"now (largest difference {found['max_abs_diff']:.3g}). Retrain it with the current versions, "
                  "or check it with service.reproduce(...).")
            return
        details = {"libraries": changed, "probe_rows": found["n_rows"]}
        seen = any((e.get("details") or {}).get("libraries") == changed
                   for e in self.registry.events(ref.model_id, ref.version, kinds=["behaviour_verified"]))
        if not seen:
            try:
                self.registry.record_event(ref.model_id, ref.version, "behaviour_verified", details)
            except ModelServiceError:  # a read-only registry: the check itself stands
                pass

    def read_bytes(self, ref: ModelVersion, row: Mapping[str, Any]) -> bytes:
        """The bytes of the file of ``ref``, checked against the registered digest (BLAKE3, else sha256).

        `ArtifactError` when the file is missing, `ArtifactIntegrityError` when
        its bytes differ from what was saved.
        """
        with self._reading(ref, row):
            data = self.store.read_bytes(row["file_path"])
        # the registered BLAKE3 when there is one (several times faster), else the sha256
        fast = row.get("file_blake3")
        if fast and blake3_bytes(data) == fast:
            return data
        digest = sha256_bytes(data)
        if not fast and digest == row["file_sha256"]:
            return data
        found = (f"found {digest}" if digest != row["file_sha256"]
                 else f"its BLAKE3 is not the registered {fast}")
        raise ArtifactIntegrityError(
            f"The file of {ref} ({row['file_path']}) does not match the digest registered when it "
            f"was saved (sha256 expected {row['file_sha256']}, {found}); it was changed or damaged "
            "after saving and was not loaded."
        )

    @contextmanager
    def _reading(self, ref: ModelVersion, row: Mapping[str, Any]) -> Iterator[None]:
        """A missing file becomes an `ArtifactError` saying why it is missing (a file outside the
        store and an unreachable store are raised as they are)."""
        try:
            yield
        except (ArtifactIntegrityError, StoreError):
            raise
        except ArtifactError as err:
            state = "its save never completed" if row["artifact_state"] == "pending" else "it was removed"
            raise ArtifactError(
                f"The file of {ref} ({row['file_path']}) is missing: {state}. "
                "Save the model again or delete this version."
            ) from err

    def public(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A row as the public API returns it: ``file_path`` opens the file, ``relative_path``
        is where it sits in the store (the registry keeps only the relative path, so the
        models folder can move)."""
        relpath = row.get("file_path")
        public = {k: v for k, v in row.items() if k not in _INTERNAL}
        return {**public, "file_path": self.store.location(relpath) if relpath else None,
                "relative_path": relpath}

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """A registry transaction (`Registry.atomic`) that ends by writing the sidecars of the rows
        changed in it, before it commits: writers of one id hold its lock while they write them.

        A version keeps its sidecar while its file exists and after gc removed
        the file (``artifact_state`` ``"removed"``: the metadata is all that is
        left). If writing a sidecar fails, nothing of the block is committed.
        """
        with self.registry.atomic():
            start = len(self.registry.changed())
            yield
            self._write_sidecars(dict.fromkeys(self.registry.changed()[start:]))

    def _write_sidecars(self, keys: Iterable[tuple[str, int]]) -> None:
        if not self.store.sidecars:  # the database store: the row is beside the bytes
            return
        for model_id, version in keys:
            try:
                row = self.registry.get(model_id, version)
            except ModelNotFoundError:  # deleted in the same transaction
                continue
            if row.get("artifact_state") in ("ready", "removed"):
                self.store.write_text(sidecar_path(model_id, version), sidecar_text(row))

    def write_sidecar(self, ref: ModelVersion) -> dict[str, Any]:
        """Write the sidecar of ``ref`` as its row is now (under the id's lock); return the row."""
        with self.atomic():
            row = self.registry.lock_row(ref.model_id, ref.version)
            assert row is not None  # no expect: always the row
            self._write_sidecars([(ref.model_id, ref.version)])
        return row

    def mark_ready(self, ref: ModelVersion, *, expect: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """Record that the file of ``ref`` is in place: ``artifact_state`` ready, a ``trained``
        version becomes ``saved``, the sidecar is written; return the row.

        With ``expect``, only if the row still has those values (else None, nothing written).
        """
        model_id, version = ref
        with self.atomic():
            row = self.registry.lock_row(model_id, version, expect=expect)
            if row is None:
                return None
            self.registry.set_file(model_id, version, {"artifact_state": "ready"})
            if row["status"] == "trained":
                self.registry.set_status(model_id, version, "saved")
            return self.registry.get(model_id, version)

    def publish(self, ref: ModelVersion, staged: Staged, *, read_back: bool = False,
                ready: Callable[[], object] | None = None) -> dict[str, Any] | None:
        """Put the staged file of ``ref`` (its row registered as pending) in place.

        A transactional store (`DatabaseStore`, ``models_directory="db://"``)
        stores the bytes in the transaction that marks the version ready and
        returns the row; ``ready()`` marks it (default: `mark_ready`). A file
        store only publishes the file and returns None: the caller marks the
        version ready afterwards, so that a crash in between leaves a pending
        row `verify --repair` completes. With ``read_back`` the published
        bytes are read again and their sha256 checked before anything is
        marked ready (`ArtifactIntegrityError` otherwise; a database store
        then stores nothing).
        """
        if not self.store.transactional:
            self.store.publish(staged)
            if read_back:
                self._check_published(staged)
            return None
        with self.atomic():
            self.store.publish(staged)
            if read_back:
                self._check_published(staged)
            if ready is None:
                return self.mark_ready(ref)
            ready()
            return self.registry.get(ref.model_id, ref.version)

    def _check_published(self, staged: Staged) -> None:
        found = sha256_bytes(self.store.read_bytes(staged.relpath))
        if found != staged.sha256:
            raise ArtifactIntegrityError(
                f"{self.store.location(staged.relpath)} reads back with sha256 {found}, not {staged.sha256} "
                "as written"
            )

    def delete(self, row: Mapping[str, Any]) -> None:
        """Remove the model file and sidecar of a deleted row."""
        if row["file_path"]:
            self.store.delete(row["file_path"])
        self.store.delete(sidecar_path(row["model_id"], row["version"]))


def pickle_allowed(allow_pickle: bool | None = None) -> bool:
    """Whether joblib/pickle files may be read and written: the argument, else the environment.

    ``None`` reads `ENV_ALLOW_PICKLE` (``0``/``false``/``no``/``off`` refuse
    pickle); unset means allowed.
    """
    if allow_pickle is not None:
        if not isinstance(allow_pickle, bool):
            raise InvalidInputError(f"allow_pickle must be True, False or None, not {allow_pickle!r}.")
        return allow_pickle
    text = os.environ.get(ENV_ALLOW_PICKLE, "").strip().lower()
    if not text:
        return True
    if text not in _ENV_VALUES:
        raise InvalidInputError(
            f"{ENV_ALLOW_PICKLE}={os.environ[ENV_ALLOW_PICKLE]!r} is not understood; set it to 0 to "
            "refuse joblib/pickle model files, or 1 (or unset it) to allow them."
        )
    return _ENV_VALUES[text]


def _changed_libraries(saved: Mapping[str, str]) -> list[str]:
    """``["sklearn 1.5.0 → 1.9.0", ...]`` for the libraries a model's behaviour depends on whose
    version differs from the recorded one."""
    now = provenance.environment()
    return [f"{lib} {saved[lib]} → {now[lib]}" for lib in ("sklearn", "numpy")
            if lib in saved and lib in now and saved[lib] != now[lib]]


def _warn(message: str) -> None:
    """Warn at the first caller outside the package (the user's `load_model`, `compare_models`,
    magic ... line), however deep in the package the load was asked for."""
    level, frame = 1, sys._getframe(0)  # level 1 is this function
    inside = f"{__package__}."
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(inside):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, EnvironmentMismatchWarning, stacklevel=level)
