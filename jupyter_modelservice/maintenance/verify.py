"""`verify`: does every registry row have its file, with the right hash, and its sidecar?

Read-only. Files are hashed, never deserialized. `repair` fixes what a crash
can leave behind: saves that never completed and missing or stale sidecars.
Sidecars are read through the one checked reader (`read_sidecar_file`) and are
never evidence: a previous file that only a sidecar vouches for comes back
unverified, and verify lists unverified versions until a person confirms them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ArtifactError, ArtifactIntegrityError
from ..ids import ModelVersion
from ..json_documents import DocumentError, json_text
from ..model_files import FILE_COLUMNS, SAVE_STARTED
from ..sidecar import sidecar_path
from ..signing import check_signature
from ..trust import UNVERIFIED, origin
from .files import StoreFile, comparable_row, expected_path, file_digest, read_sidecar_file, scan
from .history import file_history

__all__ = ["DEFAULT_GRACE", "Problem", "RepairReport", "VerifyReport", "repair", "verify"]

#: Temp files younger than this (seconds) may belong to a save that is running now.
DEFAULT_GRACE = 3600.0

#: Problem kinds, with what to do about each.
ADVICE = {
    "missing_file": "save the model again or delete this version",
    "hash_mismatch": "the file was changed or damaged after saving; restore it from a backup or "
                     "delete this version",
    "incomplete_save": "run `modelservice verify --repair`",
    "unsafe_path": "remove the link; files must live inside the models directory",
    "unexpected_path": "the row points outside its model's folder; check who edited the registry",
    "missing_sidecar": "run `modelservice verify --repair`",
    "stale_sidecar": "run `modelservice verify --repair`",
    "orphan_file": "no row points at it; if you know where it came from, `modelservice rebuild-index` "
                   "restores it from its sidecar as unverified (not loadable until you run "
                   "`modelservice trust REF`), else delete it",
    "orphan_sidecar": "no row for it; `modelservice rebuild-index` restores the row as unverified if the "
                      "file is there; sidecars are not evidence, check who wrote it",
    "unverified": "its record came from a sidecar or an archive; check what it is and where it came "
                  "from, then confirm it with `modelservice trust {ref}`, or delete it",
    "stale_temp": "left by an interrupted save; `modelservice gc` removes it",
    "deleted_leftover": "`modelservice gc` (or `verify --repair`) finishes the delete; rebuild-index never "
                        "restores a deleted version",
    "no_file": "the status says saved but there is no file; save the model again",
}


@dataclass
class Problem:
    """One thing that is wrong (or, in `VerifyReport.notes`, worth knowing)."""

    kind: str
    message: str
    ref: str | None = None
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        advice = ADVICE.get(self.kind)
        return {"kind": self.kind, "ref": self.ref, "path": self.path, "message": self.message,
                "advice": advice.replace("{ref}", self.ref or "REF") if advice else None}


@dataclass
class VerifyReport:
    """What `verify` found; ``ok`` is False when anything in ``problems``."""

    rows: int = 0
    files: int = 0
    bytes_hashed: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def kinds(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for problem in self.problems:
            counts[problem.kind] = counts.get(problem.kind, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": self.rows, "files": self.files,
                "bytes_hashed": self.bytes_hashed, "problems": [p.to_dict() for p in self.problems],
                "notes": [p.to_dict() for p in self.notes]}


def _ref(row: dict[str, Any]) -> str:
    return str(ModelVersion.of(row))


def check_row_file(store: Any, row: dict[str, Any]) -> Problem | None:
    """Whether a row's file is there, complete and unchanged; None when it is."""
    ref, relpath = _ref(row), row["file_path"]
    try:
        digest, size = file_digest(store, relpath)
    except ArtifactIntegrityError as err:
        return Problem("unsafe_path", f"{ref}: {err}", ref, relpath)
    except (ArtifactError, OSError, ValueError) as err:
        if row.get("artifact_state") == "pending":
            return Problem("incomplete_save", f"{ref}: its save never completed; the file {relpath} "
                           "was never published (the version is not loadable)", ref, relpath)
        return Problem("missing_file", f"{ref}: the file {relpath} is missing ({err})", ref, relpath)
    if digest != row.get("file_sha256") or (row.get("file_bytes") not in (None, size)):
        return Problem("hash_mismatch", f"{ref}: {relpath} has sha256 {digest[:16]}… and {size} bytes; "
                       f"the registry expects {str(row.get('file_sha256'))[:16]}… and "
                       f"{row.get('file_bytes')} bytes", ref, relpath)
    if row.get("artifact_state") == "pending":
        return Problem("incomplete_save", f"{ref}: the file {relpath} is complete but the save was "
                       "not marked done (interrupted after the rename)", ref, relpath)
    return None


def check_sidecar(store: Any, row: dict[str, Any]) -> Problem | None:
    """Whether a saved row's sidecar exists and agrees with the row (its signature aside)."""
    ref, relpath = _ref(row), sidecar_path(row["model_id"], row["version"])
    try:
        data = read_sidecar_file(store, relpath)
    except DocumentError as err:  # before ArtifactError, its base
        return Problem("stale_sidecar", f"{ref}: {err}", ref, relpath)
    except ArtifactIntegrityError as err:  # e.g. a planted symlink
        return Problem("stale_sidecar", f"{ref}: the sidecar {relpath} cannot be read: {err}", ref, relpath)
    except ArtifactError:
        return Problem("missing_sidecar", f"{ref}: the sidecar {relpath} is missing", ref, relpath)
    except OSError as err:
        return Problem("stale_sidecar", f"{ref}: the sidecar {relpath} cannot be read: {err}", ref, relpath)
    data.pop("sidecar_protocol", None)
    data.pop("signature", None)  # written only where the team key is set: not a disagreement
    expected = comparable_row(row)
    differ = sorted(k for k in set(expected) | set(data)
                    if json_text(expected.get(k), sort_keys=True, default=str)
                    != json_text(data.get(k), sort_keys=True, default=str))
    if differ:
        return Problem("stale_sidecar", f"{ref}: the sidecar {relpath} disagrees with the registry on "
                       f"{', '.join(differ)}", ref, relpath)
    return None


def verify(service: Any, *, grace: float = DEFAULT_GRACE, now: float | None = None) -> VerifyReport:
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
    report = VerifyReport(rows=len(rows), files=len(files))
    referenced: set[str] = set()
    for row in rows:
        ref = _ref(row)
        referenced.add(sidecar_path(row["model_id"], row["version"]))
        if not row.get("file_path"):
            if row.get("status") in ("saved", "production") and row.get("artifact_state") != "removed":
                report.problems.append(Problem("no_file", f"{ref} is {row['status']!r} but has no file", ref))
            continue
        referenced.add(row["file_path"])
        expected = expected_path(row["model_id"], row["version"], row.get("file_format"))
        if row["file_path"] != expected:
            report.problems.append(Problem(
                "unexpected_path", f"{ref}: the registry points at {row['file_path']!r} instead of "
                f"{expected!r}", ref, row["file_path"]))
        problem = check_row_file(service.store, row)
        if problem is None:
            report.bytes_hashed += int(row.get("file_bytes") or 0)
        elif problem.kind == "incomplete_save" and _save_running(service, ModelVersion.of(row),
                                                                 row, grace, now):
            report.notes.append(Problem("save_in_progress", f"{ref}: a save started less than {grace:.0f} s "
                                        "ago is writing its file", ref, row["file_path"]))
        else:
            report.problems.append(problem)
        if row.get("artifact_state") == "ready":
            problem = check_sidecar(service.store, row)
            if problem is not None:
                report.problems.append(problem)
        if row.get("trust") == UNVERIFIED:
            report.problems.append(Problem("unverified", f"{ref} is unverified: {origin(service.registry, row)}; "
                                           "it is refused on load until a person confirms it", ref,
                                           row["file_path"]))
    history = file_history(service.registry)
    keys = {(row["model_id"], row["version"]) for row in rows}

    def left_over(entry: StoreFile) -> bool:
        return (entry.model_id, entry.version) not in keys and history.left_by_delete(service.store, entry)

    for entry in files:
        _check_file(report, entry, referenced, grace, now, left_over)
    return report


def _check_file(report: VerifyReport, entry: StoreFile, referenced: set[str], grace: float,
                now: float, left_over: Callable[[StoreFile], bool]) -> None:
    if entry.escapes:
        report.problems.append(Problem("unsafe_path", f"{entry.relpath} is a symlink pointing outside "
                                       "the models directory", path=entry.relpath))
        return
    if entry.relpath in referenced or entry.kind == "registry":
        return
    if entry.kind == "temp":
        age = None if entry.mtime is None else now - entry.mtime
        if age is not None and age >= grace:
            report.problems.append(Problem("stale_temp", f"{entry.relpath} ({entry.size} bytes) was "
                                           f"left by a save {age / 60:.0f} minutes ago", path=entry.relpath))
        else:
            report.notes.append(Problem("temp", f"{entry.relpath} may belong to a save in progress",
                                        path=entry.relpath))
    elif entry.kind in ("model", "sidecar") and left_over(entry):
        report.problems.append(Problem("deleted_leftover", f"{entry.relpath} belongs to "
                                       f"{entry.model_id}:{entry.version}, which was deleted; the delete was "
                                       "interrupted before the file went", path=entry.relpath))
    elif entry.kind == "model":
        report.problems.append(Problem("orphan_file", f"{entry.relpath} ({entry.size} bytes) belongs to "
                                       "no registry row", path=entry.relpath))
    elif entry.kind == "sidecar":
        report.problems.append(Problem("orphan_sidecar", f"{entry.relpath} describes a version the "
                                       "registry does not have", path=entry.relpath))
    else:
        report.notes.append(Problem("other", f"{entry.relpath} is not a registry file", path=entry.relpath))


@dataclass
class RepairReport:
    """What `repair` changed, one line per version or file."""

    completed: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)
    sidecars: list[str] = field(default_factory=list)
    in_progress: list[str] = field(default_factory=list)  # pending rows of saves that may be running
    deleted: list[str] = field(default_factory=list)  # files an interrupted delete left behind, removed now

    def to_dict(self) -> dict[str, Any]:
        return {"completed": self.completed, "restored": self.restored, "cleared": self.cleared,
                "sidecars": self.sidecars, "in_progress": self.in_progress, "deleted": self.deleted}

    def __bool__(self) -> bool:
        return bool(self.completed or self.restored or self.cleared or self.sidecars or self.in_progress
                    or self.deleted)


def repair(service: Any, *, grace: float = DEFAULT_GRACE, now: float | None = None) -> RepairReport:
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
    report = RepairReport()
    for row in service.registry.list(order_by="model_id"):
        ref = ModelVersion.of(row)
        if row.get("artifact_state") == "pending" and row.get("file_path"):
            problem = check_row_file(service.store, row)
            if problem is not None and problem.kind == "incomplete_save":
                if _save_running(service, ref, row, grace, now):
                    report.in_progress.append(str(ref))
                else:
                    _finish_pending(service, ref, row, report)
                continue
        if row.get("artifact_state") == "ready" and row.get("file_path"):
            # the sidecar check is cheap; hash the file only when the sidecar needs rewriting,
            # and rewrite it inside a transaction from the row as it is then
            if check_sidecar(service.store, row) and check_row_file(service.store, row) is None:
                service.files.write_sidecar(ref)
                report.sidecars.append(str(ref))
    _finish_deletes(service, report)
    return report


def _finish_deletes(service: Any, report: RepairReport) -> None:
    """Remove the files and sidecars that interrupted deletes left behind (this registry's own)."""
    history = file_history(service.registry)
    if not history.deleted:
        return
    keys = {(row["model_id"], row["version"]) for row in service.registry.list(order_by="model_id")}
    for entry in scan(service.store):
        if (entry.kind in ("model", "sidecar") and not entry.symlink
                and (entry.model_id, entry.version) not in keys and history.left_by_delete(service.store, entry)):
            service.store.delete(entry.relpath)
            report.deleted.append(entry.relpath)


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


def _finish_pending(service: Any, ref: ModelVersion, row: dict[str, Any], report: RepairReport) -> None:
    try:
        present = service.store.exists(row["file_path"])
    except ArtifactIntegrityError:
        return
    expect = {k: row[k] for k in FILE_COLUMNS}  # every change below is conditional on the row as read
    if present:  # complete (check_row_file found the hash right): finish the save
        if service.files.mark_ready(ref, expect=expect) is not None:
            report.completed.append(str(ref))
        return
    previous = _previous_recorded(service, ref)
    if previous is not None:
        if _put_back(service, ref, expect, previous, {"from": "registry", "path": previous["file_path"]}):
            report.restored.append(f"{ref} ({previous['file_path']})")
        return
    previous, signature = _previous_from_sidecar(service, ref)
    if previous is not None:
        checked = check_signature({**row, **previous}, signature)
        trust = "verified" if checked == "valid" else UNVERIFIED
        details = {"from": "sidecar", "path": previous["file_path"], "signature": checked}
        if _put_back(service, ref, expect, previous, details, trust=trust):
            label = "" if trust == "verified" else ", unverified"
            report.restored.append(f"{ref} ({previous['file_path']}{label})")
        return
    registry = service.registry
    with service.files.atomic():
        if registry.lock_row(*ref, expect=expect) is None:
            return  # the save finished (or changed) meanwhile: nothing to undo
        registry.set_file(*ref, dict.fromkeys(FILE_COLUMNS))
        if row["status"] in ("saved", "production"):
            registry.set_status(*ref, "trained")  # it has no file any more
    service.store.delete(sidecar_path(ref.model_id, ref.version))  # it described a file that is gone
    report.cleared.append(str(ref))


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
