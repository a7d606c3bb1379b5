"""`rebuild_index`: recreate registry rows from the JSON sidecars beside the model files.

For a registry whose database was lost (or a models folder copied without
it). Only missing rows are added, under their original versions; existing
rows are never overwritten (disagreements are reported). A sidecar is
restored only when its model file is present with the recorded sha256, or
when it records that the file was removed on purpose (``artifact_state``
``'removed'``): no restored row ever points at nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ArtifactError, InvalidModelIdError
from ..ids import ModelRef, validate_model_id
from ..registry.database import COLUMNS
from ..registry.engine import actor, utcnow
from ..sidecar import SIDECAR_PROTOCOL
from .files import expected_path, scan
from .verify import check_row_file, check_sidecar

__all__ = ["RebuildReport", "insert_version", "rebuild_index"]

_REQUIRED = ("model_class", "training_date", "status")


@dataclass
class RebuildReport:
    """What `rebuild_index` did per sidecar."""

    added: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    conflicts: list[dict[str, str]] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)
    demoted: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.conflicts or self.refused)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "added": self.added, "present": self.present, "conflicts": self.conflicts,
                "refused": self.refused, "demoted": self.demoted}


def insert_version(registry: Any, row: dict[str, Any], event: dict[str, Any]) -> bool:
    """Insert ``row`` under its own version with one history event; False if the version exists."""
    history = [{"model_id": row["model_id"], "version": row["version"], "actor": actor(),
                "at": utcnow(), "from_status": None, "to_status": row.get("status"), **event}]
    return bool(registry.import_version(row, history))


def read_sidecar(store: Any, relpath: str, model_id: str, version: int) -> dict[str, Any]:
    """A sidecar's row, checked against its place in the store; `ValueError` says what is wrong."""
    try:
        data = json.loads(store.read_bytes(relpath).decode("utf-8"))
    except (ArtifactError, UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"cannot be read as JSON: {err}") from err
    if not isinstance(data, dict):
        raise ValueError("is not a JSON object")
    protocol = data.pop("sidecar_protocol", None)
    if not isinstance(protocol, int) or protocol > SIDECAR_PROTOCOL:
        raise ValueError(f"has sidecar protocol {protocol!r}; this version reads up to {SIDECAR_PROTOCOL}")
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
    return row


def rebuild_index(service: Any) -> RebuildReport:
    """Add a registry row for every sidecar whose version the registry lacks.

    Each restored row gets a ``restored`` history event. If several restored
    versions of one id claim ``production``, the newest keeps it and the
    others become ``saved``.
    """
    report = RebuildReport()
    for entry in scan(service.store):
        if entry.kind != "sidecar" or entry.escapes:
            continue
        model_id, version = entry.model_id, entry.version
        ref = str(ModelRef(model_id, version))
        try:
            row = read_sidecar(service.store, entry.relpath, model_id, version)
        except ValueError as err:
            report.refused.append({"path": entry.relpath, "reason": f"the sidecar {err}"})
            continue
        if row.get("artifact_state") == "ready":
            problem = check_row_file(service.store, row)
            if problem is not None:
                report.refused.append({"path": entry.relpath, "reason": problem.message})
                continue
        try:
            existing = service.registry.get(model_id, version)
        except KeyError:
            existing = None
        if existing is not None:
            differ = check_sidecar(service.store, existing)
            if differ is None:
                report.present.append(ref)
            else:
                report.conflicts.append({"ref": ref, "reason": differ.message + " (the registry was kept)"})
            continue
        if insert_version(service.registry, row, {"event": "restored",
                                                  "details": {"from": "sidecar", "path": entry.relpath}}):
            report.added.append(ref)
        else:
            report.present.append(ref)
    _one_production(service, report)
    return report


def _one_production(service: Any, report: RebuildReport) -> None:
    by_id: dict[str, list[int]] = {}
    for row in service.registry.list(status="production", order_by="version"):
        by_id.setdefault(row["model_id"], []).append(row["version"])
    for model_id, versions in by_id.items():
        for version in versions[:-1]:
            service._update_row(ModelRef(model_id, version), {"status": "saved"})
            report.demoted.append(f"{model_id}:{version}")
