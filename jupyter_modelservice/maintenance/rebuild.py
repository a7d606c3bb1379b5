"""`rebuild_index`: recreate registry rows from the JSON sidecars beside the model files.

For a registry whose database was lost (or a models folder copied without
it). Only missing rows are added, under their original versions; existing
rows are never overwritten (disagreements are reported). A sidecar is
restored only when its model file is present with the recorded sha256, or
when it records that the file was removed on purpose (``artifact_state``
``'removed'``): no restored row ever points at nothing.

A sidecar is a backup, not evidence: anyone who can write into the models
folder can write one, with the hash of a file of their own. So every
restored version is **unverified** (refused on load until a person confirms
it with ``modelservice trust REF``), unless its sidecar carries a valid
signature of the team key (`jupyter_modelservice.signing`); and none is
restored as ``production`` (it comes back ``saved``, the claimed status is
kept in the ``restored`` event). Sidecars are read through the one checked
reader (size, depth, field types); version numbers above
`MAX_RESTORED_VERSION` and ids differing from a registered one only in
letter case are refused.

The database store (``models_directory="db://"``) keeps no sidecars: its
bytes and rows live in one database, so there is nothing to rebuild from;
`rebuild_index` changes nothing and says so (`NO_SIDECARS`, in ``notes``).
"""

from __future__ import annotations

from typing import Any

from ..exceptions import ArtifactError, InvalidModelIdError
from ..ids import ModelVersion, validate_model_id
from ..registry.database import COLUMNS
from ..registry.engine import actor, utcnow
from ..signing import check_signature
from .files import check_restored_version, expected_path, keeps_sidecars, read_sidecar_file, scan
from .history import file_history
from .report import Finding, Report
from .verify import check_row_file, check_sidecar

__all__ = ["NO_SIDECARS", "insert_version", "rebuild_index"]

_REQUIRED = ("model_class", "training_date", "status")
#: What `rebuild_index` says of the database store.
NO_SIDECARS = (
    "nothing to rebuild from: the models of this registry are kept in its database (models_directory='db://'), "
    "which keeps no sidecars; a version's row and its bytes are stored, and lost, together. Back up the "
    "database itself (pg_dump, or a copy of the SQLite file) or export versions with `modelservice export`."
)


def insert_version(registry: Any, row: dict[str, Any], event: dict[str, Any]) -> bool:
    """Insert ``row`` under its own version with one history event; False if the version exists."""
    history = [{"model_id": row["model_id"], "version": row["version"], "actor": actor(),
                "at": utcnow(), "from_status": None, "to_status": row.get("status"), **event}]
    return bool(registry.import_version(row, history))


def _refused(relpath: str, reason: str) -> Finding:
    return Finding("refused", f"{relpath}: {reason}", path=relpath, details={"reason": reason})


def read_sidecar(store: Any, relpath: str, model_id: str, version: int) -> tuple[dict[str, Any], Any]:
    """A sidecar's row and signature, checked against its place in the store.

    `ValueError` (or `ArtifactError`) says what is wrong.
    """
    data = read_sidecar_file(store, relpath)
    signature = data.pop("signature", None)
    try:
        validate_model_id(data.get("model_id"))
    except InvalidModelIdError as err:
        raise ValueError(str(err)) from err
    if data.get("model_id") != model_id or data.get("version") != version:
        raise ValueError(f"describes {data.get('model_id')!r}:{data.get('version')!r} but sits at "
                         f"{model_id}:{version}")
    missing = [k for k in _REQUIRED if not data.get(k)]
    if missing:
        raise ValueError(f"lacks {', '.join(missing)}")
    row = {k: v for k, v in data.items() if k in COLUMNS}
    state = row.get("artifact_state")
    if state == "ready":
        if row.get("file_path") != expected_path(model_id, version, row.get("file_format")):
            raise ValueError(f"points at {row.get('file_path')!r}, not at {model_id}/v{version}.<ext>")
    elif state == "removed":
        row["file_path"] = None
    else:
        raise ValueError(f"records artifact_state {state!r}; only saved versions have sidecars")
    return row, signature


def rebuild_index(service: Any) -> Report:
    """Add a registry row for every sidecar whose version the registry lacks.

    Each restored row gets a ``restored`` history event whose details keep
    the sidecar's claimed status and what its signature showed. A restored
    row is ``saved`` where the sidecar says ``production``, and unverified
    unless the team key's signature on it is valid.

    Report: ``changes`` of kind ``added`` (each with ``details["trust"]``),
    ``notes`` of kinds ``unverified`` (added, to be confirmed) and
    ``present``, ``problems`` of kinds ``conflict`` and ``refused``.

    The database store (``models_directory="db://"``) has no sidecars: there
    is nothing to rebuild from, and the report says so in ``notes``.
    """
    report = Report("rebuild-index")
    if not keeps_sidecars(service.store):
        report.notes.append(Finding("no_sidecars", NO_SIDECARS))
        return report
    deleted = file_history(service.registry).deleted
    for entry in scan(service.store):
        if entry.kind != "sidecar" or entry.escapes:
            continue
        model_id, version = entry.model_id, entry.version
        if model_id is None or version is None:  # not at <model_id>/v<N>.json: never a sidecar
            continue
        ref = str(ModelVersion(model_id, version))
        if (model_id, version) in deleted:
            report.problems.append(_refused(entry.relpath, (
                f"{ref} was deleted (the registry's history records it); a deleted version is never "
                "restored. `modelservice gc` removes what its interrupted delete left behind")))
            continue
        problem = check_restored_version(version, "the sidecar")
        if problem is not None:
            report.problems.append(_refused(entry.relpath, problem))
            continue
        try:
            row, signature = read_sidecar(service.store, entry.relpath, model_id, version)
        except ArtifactError as err:
            report.problems.append(_refused(entry.relpath, str(err)))
            continue
        except ValueError as err:
            report.problems.append(_refused(entry.relpath, f"the sidecar {err}"))
            continue
        if row.get("artifact_state") == "ready":
            unusable = check_row_file(service.store, row)
            if unusable is not None:
                report.problems.append(_refused(entry.relpath, unusable.message))
                continue
        try:
            existing = service.registry.get(model_id, version)
        except KeyError:
            existing = None
        if existing is not None:
            differ = check_sidecar(service.store, existing)
            if differ is None:
                report.notes.append(Finding("present", f"{ref} is in the registry already", ref, entry.relpath))
            else:
                report.problems.append(Finding("conflict", differ.message + " (the registry was kept)", ref,
                                               entry.relpath))
            continue
        twin = service.registry.case_conflict(model_id)
        if twin is not None:
            report.problems.append(_refused(entry.relpath, (
                f"the sidecar's id {model_id!r} differs from the registered {twin!r} only in letter case; "
                "both would share one folder on Windows and macOS")))
            continue
        _restore(service, report, row, signature, entry.relpath, ref)
    return report


def _restore(service: Any, report: Report, row: dict[str, Any], signature: Any, relpath: str,
             ref: str) -> None:
    claimed = row.get("status")
    checked = check_signature(row, signature)
    row["trust"] = "verified" if checked == "valid" else "unverified"
    if claimed == "production":
        row["status"] = "saved"  # a promotion is the registry's to record, not a file's to claim
    details = {"from": "sidecar", "path": relpath, "claimed_status": claimed, "signature": checked}
    if not insert_version(service.registry, row, {"event": "restored", "details": details}):
        report.notes.append(Finding("present", f"{ref} is in the registry already", ref, relpath))
        return
    report.changes.append(Finding("added", f"{ref} restored from its sidecar", ref, relpath,
                                  details={"trust": row["trust"], "signature": checked}))
    if row["trust"] == "unverified":
        report.notes.append(Finding("unverified", f"{ref} was restored unverified: check it, then "
                                    f"`modelservice trust {ref}`", ref, relpath))
    if check_sidecar(service.store, service.registry.get(row["model_id"], row["version"])) is not None:
        service.files.write_sidecar(ModelVersion.of(row))  # as the registry has it now
