"""`verify`: does every registry row have its file, with the right hash, and its sidecar?

Read-only. Files are hashed, never deserialized. `repair` fixes what a crash
can leave behind: saves that never completed and missing or stale sidecars.
Sidecars are read through the one checked reader (`read_sidecar_file`) and are
never evidence: a previous file that only a sidecar vouches for comes back
unverified, and verify lists unverified versions until a person confirms them.
The database store (``models_directory="db://"``) keeps no sidecars: its
versions are checked for their bytes only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..exceptions import ArtifactError, ArtifactIntegrityError
from ..ids import ModelVersion
from ..json_documents import DocumentError, json_text
from ..model_files import FILE_COLUMNS, SAVE_STARTED
from ..sidecar import sidecar_path
from ..signing import check_signature
from ..trust import UNVERIFIED, origin
from .files import (
    StoreFile,
    comparable_row,
    expected_path,
    file_digest,
    keeps_sidecars,
    read_sidecar_file,
    scan,
)
from .history import file_history
from .report import Finding, Report

__all__ = ["DEFAULT_GRACE", "check_row_file", "check_sidecar", "repair", "verify"]

#: Temp files younger than this (seconds) may belong to a save that is running now.
DEFAULT_GRACE = 3600.0

def _ref(row: dict[str, Any]) -> str:
    return str(ModelVersion.of(row))


def check_row_file(store: Any, row: dict[str, Any]) -> Finding | None:
    """Whether a row's file is there, complete and unchanged; None when it is."""
    ref, relpath = _ref(row), row["file_path"]
    try:
        digests, size = file_digest(store, relpath)
    except ArtifactIntegrityError as err:
        return Finding("unsafe_path", f"{ref}: {err}", ref, relpath)
    except (ArtifactError, OSError, ValueError) as err:
        if row.get("artifact_state") == "pending":
            return Finding("incomplete_save", f"{ref}: its save never completed; the file {relpath} "
                           "was never published (the version is not loadable)", ref, relpath)
        return Finding("missing_file", f"{ref}: the file {relpath} is missing ({err})", ref, relpath)
    digest = digests.sha256
    if digest == row.get("file_sha256") and row.get("file_blake3") not in (None, digests.blake3):
        return Finding("hash_mismatch", f"{ref}: {relpath} has the registered sha256 but BLAKE3 "
                       f"{digests.blake3[:16]}…, not the registered {str(row['file_blake3'])[:16]}…; "
                       "loads refuse it", ref, relpath)
    if digest == row.get("file_sha256") and row.get("file_chunks") not in (None, digests.chunks):
        return Finding("hash_mismatch", f"{ref}: {relpath} has the registered sha256 but not the registered "
                       "chunk digests; loads refuse it", ref, relpath)
    if digest != row.get("file_sha256") or row.get("file_bytes") not in (None, size):
        return Finding("hash_mismatch", f"{ref}: {relpath} has sha256 {digest[:16]}… and {size} bytes; "
                       f"the registry expects {str(row.get('file_sha256'))[:16]}… and "
                       f"{row.get('file_bytes')} bytes", ref, relpath)
    if row.get("artifact_state") == "pending":
        return Finding("incomplete_save", f"{ref}: the file {relpath} is complete but the save was "
                       "not marked done (interrupted after the rename)", ref, relpath)
    return None


def check_sidecar(store: Any, row: dict[str, Any]) -> Finding | None:
    """Whether a saved row's sidecar exists and agrees with the row (its signature aside)."""
    ref, relpath = _ref(row), sidecar_path(row["model_id"], row["version"])
    try:
        data = read_sidecar_file(store, relpath)
    except DocumentError as err:  # before ArtifactError, its base
        return Finding("stale_sidecar", f"{ref}: {err}", ref, relpath)
    except ArtifactIntegrityError as err:  # e.g. a planted symlink
        return Finding("stale_sidecar", f"{ref}: the sidecar {relpath} cannot be read: {err}", ref, relpath)
    except ArtifactError:
        return Finding("missing_sidecar", f"{ref}: the sidecar {relpath} is missing", ref, relpath)
    except OSError as err:
        return Finding("stale_sidecar", f"{ref}: the sidecar {relpath} cannot be read: {err}", ref, relpath)
    data.pop("sidecar_protocol", None)
    data.pop("signature", None)  # written only where the team key is set: not a disagreement
    expected = comparable_row(row)
    differ = sorted(k for k in set(expected) | set(data)
                    if json_text(expected.get(k), sort_keys=True, default=str)
                    != json_text(data.get(k), sort_keys=True, default=str))
    if differ:
        return Finding("stale_sidecar", f"{ref}: the sidecar {relpath} disagrees with the registry on "
                       f"{', '.join(differ)}", ref, relpath)
    return None


def verify(service: Any, *, grace: float = DEFAULT_GRACE, now: float | None = None) -> Report:
    """Check every row against the files of ``service``'s store, and every file against the rows.

    Problems: rows whose file is missing, changed or never completed (dangling
    rows), symlinks leaving the store, missing or stale sidecars, files and
    sidecars no row points at (orphans), temp files older than ``grace``
    seconds and unverified versions (restored from a sidecar or imported,
    not yet confirmed). Younger temp files and unknown files are notes.
    """
    now = time.time() if now is None else now
    files = scan(service.store)  # files first: a file published after this has its row already
    rows = service.registry.list(order_by="model_id")
    report = Report("verify", counts={"rows": len(rows), "files": len(files), "bytes_hashed": 0})
    referenced: set[str] = set()
    for row in rows:
        ref = _ref(row)
        referenced.add(sidecar_path(row["model_id"], row["version"]))
        if not row.get("file_path"):
            if row.get("status") in ("saved", "production") and row.get("artifact_state") != "removed":
                report.problems.append(Finding("no_file", f"{ref} is {row['status']!r} but has no file", ref))
            continue
        referenced.add(row["file_path"])
        expected = expected_path(row["model_id"], row["version"], row.get("file_format"))
        if row["file_path"] != expected:
            report.problems.append(Finding(
                "unexpected_path", f"{ref}: the registry points at {row['file_path']!r} instead of "
                f"{expected!r}", ref, row["file_path"]))
        problem = check_row_file(service.store, row)
        if problem is None:
            report.counts["bytes_hashed"] += int(row.get("file_bytes") or 0)
        elif problem.kind == "incomplete_save" and _save_running(service, ModelVersion.of(row),
                                                                 row, grace, now):
            report.notes.append(Finding("save_in_progress", f"{ref}: a save started less than {grace:.0f} s "
                                        "ago is writing its file", ref, row["file_path"]))
        else:
            report.problems.append(problem)
        if row.get("artifact_state") == "ready" and keeps_sidecars(service.store):
            problem = check_sidecar(service.store, row)
            if problem is not None:
                report.problems.append(problem)
        if row.get("trust") == UNVERIFIED:
            report.problems.append(Finding("unverified", f"{ref} is unverified: {origin(service.registry, row)}; "
                                           "it is refused on load until a person confirms it", ref,
                                           row["file_path"]))
    history = file_history(service.registry)
    keys = {(row["model_id"], row["version"]) for row in rows}

    def left_over(entry: StoreFile) -> bool:
        return (entry.model_id, entry.version) not in keys and history.left_by_delete(service.store, entry)

    for entry in files:
        _check_file(report, entry, referenced, grace, now, left_over)
    return report


def _check_file(report: Report, entry: StoreFile, referenced: set[str], grace: float,
                now: float, left_over: Callable[[StoreFile], bool]) -> None:
    if entry.escapes:
        report.problems.append(Finding("unsafe_path", f"{entry.relpath} is a symlink pointing outside "
                                       "the models directory", path=entry.relpath))
        return
    if entry.relpath in referenced or entry.kind == "registry":
        return
    if entry.kind == "temp":
        age = None if entry.mtime is None else now - entry.mtime
        if age is not None and age >= grace:
            report.problems.append(Finding("stale_temp", f"{entry.relpath} ({entry.size} bytes) was "
                                           f"left by a save {age / 60:.0f} minutes ago", path=entry.relpath))
        else:
            report.notes.append(Finding("temp", f"{entry.relpath} may belong to a save in progress",
                                        path=entry.relpath))
    elif entry.kind in ("model", "sidecar") and left_over(entry):
        report.problems.append(Finding("deleted_leftover", f"{entry.relpath} belongs to "
                                       f"{entry.model_id}:{entry.version}, which was deleted; the delete was "
                                       "interrupted before the file went", path=entry.relpath))
    elif entry.kind == "model":
        report.problems.append(Finding("orphan_file", f"{entry.relpath} ({entry.size} bytes) belongs to "
                                       "no registry row", path=entry.relpath))
    elif entry.kind == "sidecar":
        report.problems.append(Finding("orphan_sidecar", f"{entry.relpath} describes a version the "
                                       "registry does not have", path=entry.relpath))
    else:
        report.notes.append(Finding("other", f"{entry.relpath} is not a registry file", path=entry.relpath))


def repair(service: Any, *, grace: float = DEFAULT_GRACE, now: float | None = None) -> Report:
    """Finish or undo interrupted saves and rewrite missing or stale sidecars.

    A ``pending`` row whose save started less than ``grace`` seconds ago and
    whose file is not there yet may belong to a save running now: it is left
    alone (listed in ``in_progress``). Every change is conditional on the row
    being as it was read, so a save that finishes meanwhile is never undone.

    * a ``pending`` row whose file is complete (hash right) is marked ready;
    * a ``pending`` row whose file never appeared gets back the file it had
      before (a re-save in another format): trusted when the ``resave`` event
      the registry recorded describes it, **unverified** when only its sidecar
      does (unless the team key signed that sidecar); otherwise it loses its
      file fields and is then an unsaved version, refused on load;
    * a saved row's missing or stale sidecar is rewritten from the row.

    Files with a wrong hash are never touched.
    """
    now = time.time() if now is None else now
    report = Report("repair")
    for row in service.registry.list(order_by="model_id"):
        ref = ModelVersion.of(row)
        if row.get("artifact_state") == "pending" and row.get("file_path"):
            problem = check_row_file(service.store, row)
            if problem is not None and problem.kind == "incomplete_save":
                if _save_running(service, ref, row, grace, now):
                    report.notes.append(Finding("save_in_progress", f"{ref}: a save started less than "
                                                f"{grace:.0f} s ago is writing its file; left alone",
                                                str(ref), row["file_path"]))
                else:
                    _finish_pending(service, ref, row, report)
                continue
        if row.get("artifact_state") == "ready" and row.get("file_path") and keeps_sidecars(service.store):
            # the sidecar check is cheap; hash the file only when the sidecar needs rewriting,
            # and rewrite it inside a transaction from the row as it is then
            if check_sidecar(service.store, row) and check_row_file(service.store, row) is None:
                service.files.write_sidecar(ref)
                report.changes.append(Finding("sidecar_rewritten", f"{ref}: sidecar rewritten from the registry",
                                              str(ref), sidecar_path(*ref)))
    _finish_deletes(service, report)
    return report


def _finish_deletes(service: Any, report: Report) -> None:
    """Remove the files and sidecars that interrupted deletes left behind (this registry's own)."""
    history = file_history(service.registry)
    if not history.deleted:
        return
    keys = {(row["model_id"], row["version"]) for row in service.registry.list(order_by="model_id")}
    for entry in scan(service.store):
        if (entry.kind in ("model", "sidecar") and not entry.symlink
                and (entry.model_id, entry.version) not in keys and history.left_by_delete(service.store, entry)):
            service.store.delete(entry.relpath)
            report.changes.append(Finding("removed", f"{entry.relpath}: left by an interrupted delete, removed",
                                          path=entry.relpath))


def pending_since(service: Any, ref: ModelVersion) -> float | None:
    """When the save that made ``ref`` pending started (epoch seconds), from its history."""
    from datetime import datetime

    started = [e["at"] for e in service.registry.events(ref.model_id, ref.version)
               if e["event"] in (SAVE_STARTED, "resave")]
    try:
        return datetime.fromisoformat(started[-1]).timestamp() if started else None
    except (TypeError, ValueError):
        return None


def _save_running(service: Any, ref: ModelVersion, row: dict[str, Any], grace: float, now: float) -> bool:
    """Whether a pending row without its file may belong to a save that is running now."""
    try:
        if service.store.exists(row["file_path"]):
            return False  # published: finishing it is what the saver would do
    except ArtifactIntegrityError:
        return False
    since = pending_since(service, ref)
    return since is not None and now - since < grace


def _finish_pending(service: Any, ref: ModelVersion, row: dict[str, Any], report: Report) -> None:
    try:
        present = service.store.exists(row["file_path"])
    except ArtifactIntegrityError:
        return
    expect = {k: row[k] for k in FILE_COLUMNS}  # every change below is conditional on the row as read
    if present:  # complete (check_row_file found the hash right): finish the save
        if service.files.mark_ready(ref, expect=expect) is not None:
            report.changes.append(Finding("completed", f"{ref}: save completed", str(ref), row["file_path"]))
        return
    previous = _previous_recorded(service, ref)
    if previous is not None:
        if _put_back(service, ref, expect, previous, {"from": "registry", "path": previous["file_path"]}):
            report.changes.append(Finding("restored", f"{ref}: previous file {previous['file_path']} restored",
                                          str(ref), previous["file_path"]))
        return
    previous, signature = _previous_from_sidecar(service, ref)
    if previous is not None:
        checked = check_signature({**row, **previous}, signature)
        trust = "verified" if checked == "valid" else UNVERIFIED
        details = {"from": "sidecar", "path": previous["file_path"], "signature": checked}
        if _put_back(service, ref, expect, previous, details, trust=trust):
            label = "" if trust == "verified" else ", unverified"
            report.changes.append(Finding("restored", f"{ref}: previous file {previous['file_path']} restored{label}",
                                          str(ref), previous["file_path"], details={"trust": trust}))
        return
    registry = service.registry
    with service.files.atomic():
        if registry.lock_row(*ref, expect=expect) is None:
            return  # the save finished (or changed) meanwhile: nothing to undo
        registry.set_file(*ref, dict.fromkeys(FILE_COLUMNS))
        if row["status"] in ("saved", "production"):
            registry.set_status(*ref, "trained")  # it has no file any more
    service.store.delete(sidecar_path(ref.model_id, ref.version))  # it described a file that is gone
    report.changes.append(Finding("cleared", f"{ref}: incomplete save cleared (the version has no file now)",
                                  str(ref), row["file_path"]))


def _put_back(service: Any, ref: ModelVersion, expect: dict[str, Any], previous: dict[str, Any],
              details: dict[str, Any], trust: str | None = None) -> bool:
    """Give a pending row back the complete file it had before, with a ``repaired`` event, if the
    row is still as read; ``trust`` is recorded too when given (a file only a sidecar vouches for)."""
    registry = service.registry
    with service.files.atomic():
        if registry.lock_row(*ref, expect=expect) is None:
            return False
        registry.set_file(*ref, previous)
        if trust is not None:
            registry.set_values(*ref, {"trust": trust})
        registry.record_event(*ref, "repaired", details)
    return True


def _complete(service: Any, ref: ModelVersion, previous: dict[str, Any]) -> bool:
    """Whether ``previous`` describes a complete, unchanged file of ``ref`` other than a pending one."""
    if previous.get("artifact_state", "ready") != "ready" or not previous.get("file_path"):
        return False
    if previous["file_path"] != expected_path(ref.model_id, ref.version, previous.get("file_format")):
        return False
    return check_row_file(service.store, {"model_id": ref.model_id, "version": ref.version, **previous}) is None


def _previous_recorded(service: Any, ref: ModelVersion) -> dict[str, Any] | None:
    """The file the registry recorded before the pending re-save (its ``resave`` event), if still whole."""
    events = [e for e in service.registry.events(ref.model_id, ref.version) if e["event"] == "resave"]
    details = events[-1].get("details") if events else None
    recorded = details.get("previous") if isinstance(details, dict) else None
    if not isinstance(recorded, dict):
        return None
    previous = {k: recorded.get(k) for k in FILE_COLUMNS}
    previous["artifact_state"] = "ready"
    return previous if _complete(service, ref, previous) else None


def _previous_from_sidecar(service: Any, ref: ModelVersion) -> tuple[dict[str, Any] | None, Any]:
    """The file fields of the sidecar and its signature, if they describe a complete file."""
    try:
        data = read_sidecar_file(service.store, sidecar_path(ref.model_id, ref.version))
    except OSError:  # ArtifactError, DocumentError included
        return None, None
    previous = {k: data.get(k) for k in FILE_COLUMNS}
    return (previous, data.get("signature")) if _complete(service, ref, previous) else (None, None)
