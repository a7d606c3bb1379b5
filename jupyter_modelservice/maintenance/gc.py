"""`collect_garbage`: remove what no model needs: stale temp files, archived versions' files,
files replaced by a later save and files an interrupted delete left behind.

Never removes a file that could be the only copy of a model the registry
does not know about: a file goes only when this registry's history says it
wrote it (same path and sha256); other orphans are reported, not deleted.
"""

from __future__ import annotations

import time
from typing import Any

from ..exceptions import ModelNotFoundError
from ..ids import ModelVersion
from .files import StoreFile, scan
from .history import FileHistory, file_history
from .report import Finding, Report
from .verify import DEFAULT_GRACE

__all__ = ["collect_garbage"]


def collect_garbage(service: Any, *, dry_run: bool = False, grace: float = DEFAULT_GRACE,
                    now: float | None = None) -> Report:
    """Remove stale ``.tmp-*`` files and the files of archived versions.

    Temp files younger than ``grace`` seconds are kept (a save may be writing
    them); so are, on a remote store, staged copies and incomplete multipart
    uploads (older ones, left by killed saves, are removed and aborted).
    An archived version's row is updated first, in one transaction and only if
    it is still archived and still points at that file: ``file_path`` becomes
    NULL, ``artifact_state`` ``'removed'`` (hash and size are kept), an event
    ``file_removed`` is recorded and the sidecar rewritten; then the
    file goes. A file left by an interrupted earlier run (its row already says
    ``removed``) is removed too.

    The report's ``changes`` are the files removed (kind ``removed``, with
    their size and why), its ``notes`` the files kept (kind ``kept``);
    ``report.total_bytes("removed")`` is what was freed.
    """
    now = time.time() if now is None else now
    report = Report("gc", dry_run=dry_run)
    files = scan(service.store)
    abandoned = getattr(service.store, "clean_abandoned", None)
    if abandoned is not None:  # a remote store: local stages and multipart uploads of killed saves
        removed, kept = abandoned(grace=grace, now=now, dry_run=dry_run)
        report.changes += [Finding("removed", item["reason"], path=item["path"], bytes=item["bytes"])
                           for item in removed]
        report.notes += [Finding("kept", item["reason"], path=item["path"]) for item in kept]
    rows = {(r["model_id"], r["version"]): r for r in service.registry.list(order_by="model_id")}
    referenced = {r["file_path"] for r in rows.values() if r.get("file_path")}
    sizes = {f.relpath: f.size for f in files}
    history = file_history(service.registry)

    for entry in files:
        if entry.symlink:  # an escaping entry is always a symlink
            report.notes.append(Finding("kept", "symlink; remove it by hand", path=entry.relpath))
        elif entry.kind == "temp":
            age = None if entry.mtime is None else now - entry.mtime
            if age is not None and age >= grace:
                _remove(service, report, entry.relpath, entry.size, "stale temp file")
            else:
                report.notes.append(Finding("kept", "temp file of a save that may be running", path=entry.relpath))
        elif entry.kind in ("model", "sidecar") and entry.relpath not in referenced:
            row = rows.get((entry.model_id, entry.version))
            reason = _unneeded(service, entry, row, history, grace, now)
            if reason is not None:
                _remove(service, report, entry.relpath, entry.size, reason)
            elif entry.kind == "model":
                report.notes.append(Finding("kept", "orphan model file: this registry did not write it or still "
                                                    "needs it (see verify)", path=entry.relpath))

    for row in rows.values():
        if row["status"] != "archived" or not row.get("file_path") or row.get("artifact_state") != "ready":
            continue
        relpath = row["file_path"]
        if dry_run:
            report.changes.append(Finding("removed", f"archived version {row['model_id']}:{row['version']}",
                                          f"{row['model_id']}:{row['version']}", relpath,
                                          row.get("file_bytes") or sizes.get(relpath)))
            continue
        if _detach_file(service, row) is not None:
            _remove(service, report, relpath, row.get("file_bytes") or sizes.get(relpath),
                    f"archived version {row['model_id']}:{row['version']}")
    report.counts["bytes_freed"] = report.total_bytes("removed")
    return report


def _unneeded(service: Any, entry: StoreFile, row: dict[str, Any] | None, history: FileHistory,
              grace: float, now: float) -> str | None:
    """Why no version needs ``entry`` (a model file or sidecar no row points at), or None to keep it.

    Only on the registry's word: the file must be one its history says it wrote
    (path and sha256), so files of another registry sharing the prefix are kept.
    """
    model_id, version, store = entry.model_id, entry.version, service.store
    if model_id is None or version is None:
        return None
    ref = f"{model_id}:{version}"
    if row is None:  # else an orphan, perhaps the only copy of a model: verify reports it
        return f"left by the interrupted delete of {ref}" if history.left_by_delete(store, entry) else None
    if entry.kind != "model":
        return None  # the sidecar of a version that exists
    if row.get("artifact_state") == "removed":
        same = row.get("file_sha256") and history.wrote(store, model_id, version, entry.relpath)
        return f"file of archived version {ref}, already detached" if same else None
    replaced = (row.get("artifact_state") == "ready" and row.get("file_path")
                and row["file_path"] != entry.relpath and entry.mtime is not None
                and now - entry.mtime >= grace)
    if replaced and store.exists(row["file_path"]) and history.wrote(store, model_id, version, entry.relpath):
        return f"replaced by {row['file_path']} when {ref} was saved again"
    return None


def _remove(service: Any, report: Report, relpath: str, size: int | None, reason: str) -> None:
    if not report.dry_run:
        service.store.delete(relpath)
    report.changes.append(Finding("removed", reason, path=relpath, bytes=size))


def _detach_file(service: Any, row: dict[str, Any]) -> dict[str, Any] | None:
    """Mark an archived row's file removed (sidecar rewritten, event recorded) and return the row, if
    it is still archived with that file; None when it was promoted, deleted or re-saved meanwhile."""
    registry, ref = service.registry, ModelVersion.of(row)
    expect = {"status": "archived", "file_path": row["file_path"], "artifact_state": "ready"}
    try:
        with service.files.atomic():
            if registry.lock_row(*ref, expect=expect) is None:
                return None
            registry.set_file(*ref, {"file_path": None, "artifact_state": "removed"})
            registry.record_event(*ref, "file_removed", {"path": row["file_path"], "sha256": row.get("file_sha256"),
                                                         "bytes": row.get("file_bytes"), "by": "gc"})
            return registry.get(*ref)
    except ModelNotFoundError:
        return None
