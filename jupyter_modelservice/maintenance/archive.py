"""Export one model version to a single ``.zip`` file and import it into another registry.

An archive holds three entries, stored uncompressed:

``manifest.json``
    ``{"archive_protocol": 1, "model_id", "version", "file", "file_format",
    "sha256", "bytes", "exported_at", "package_version"}``
``metadata.json``
    the version's registry row (the sidecar)
``model.<joblib|pkl|skops>``
    the model file, byte for byte

Import reads only these entries (nothing is extracted by name), checks the
size before reading and the sha256 after, and adds the version **under its
original version number when that number is free in the target registry,
otherwise as the next version** of the id. Imported versions start with status
``saved``; the original reference and status are kept in an ``imported``
history event. Nothing is deserialized.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..artifacts.formats import EXTENSIONS, detect_format, model_path
from ..exceptions import ArtifactError, ArtifactIntegrityError, InvalidInputError
from ..ids import ModelRef, parse_ref, validate_model_id, validate_version
from ..registry.database import COLUMNS
from ..registry.engine import utcnow
from ..sidecar import sidecar_text
from .rebuild import insert_version

__all__ = ["ARCHIVE_PROTOCOL", "export_version", "import_version"]

ARCHIVE_PROTOCOL = 1
_FILE_RE = re.compile(r"model\.(joblib|pkl|skops)")
_MAX_JSON = 16 << 20
_CHUNK = 1 << 22


def export_version(service: Any, ref: str, archive: str | os.PathLike[str], *,
                   overwrite: bool = False) -> dict[str, Any]:
    """Write ``ref`` (``"id"`` for the latest or ``"id:3"``) and its metadata to ``archive``.

    The file's sha256 is checked first: a damaged file is not exported. The
    archive is written to a temp name and renamed, so it is complete or absent.
    Returns the manifest.
    """
    parsed = parse_ref(ref)
    row = service.get_model_metadata(parsed.model_id, parsed.version)
    ref_text = str(ModelRef(row["model_id"], row["version"]))
    if not row.get("file_path") or row.get("artifact_state") != "ready":
        raise ArtifactError(f"{ref_text} has no saved file to export; call save_model({ref_text!r}) first"
                            + (" (its last save did not complete: run `modelservice verify --repair`)."
                               if row.get("artifact_state") == "pending" else "."))
    try:
        data = service.files.read_bytes(ModelRef(row["model_id"], row["version"]), row)
    except ArtifactIntegrityError as err:
        raise ArtifactIntegrityError(f"{err} It was not exported.") from err
    digest = row["file_sha256"]
    target = Path(archive)
    if target.exists() and not overwrite:
        raise InvalidInputError(f"{target} already exists; choose another name, or overwrite it "
                                "(--force, overwrite=True).")
    fmt = detect_format(data)
    name = f"model.{EXTENSIONS[fmt]}"
    from .. import __version__

    manifest = {"archive_protocol": ARCHIVE_PROTOCOL, "model_id": row["model_id"],
                "version": row["version"], "file": name, "file_format": fmt, "sha256": digest,
                "bytes": len(data), "exported_at": utcnow(), "package_version": __version__}
    folder = target.parent if str(target.parent) else Path(".")
    fd, temp_name = tempfile.mkstemp(prefix=f".tmp-{target.name}-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
            zf.writestr("metadata.json", sidecar_text(row))
            zf.writestr(name, data)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return {**manifest, "archive": str(target)}


def _read_json(zf: zipfile.ZipFile, name: str) -> dict[str, Any]:
    try:
        info = zf.getinfo(name)
    except KeyError as err:
        raise ArtifactError(f"The archive has no {name}; it was not written by `modelservice export`.") from err
    if info.file_size > _MAX_JSON:
        raise ArtifactError(f"{name} in the archive is {info.file_size} bytes; refusing it.")
    try:
        data = json.loads(zf.read(info).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ArtifactError(f"{name} in the archive is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise ArtifactError(f"{name} in the archive is not a JSON object.")
    return data


def _check_archive(zf: zipfile.ZipFile) -> tuple[dict[str, Any], dict[str, Any], zipfile.ZipInfo]:
    manifest = _read_json(zf, "manifest.json")
    protocol = manifest.get("archive_protocol")
    if not isinstance(protocol, int) or not 1 <= protocol <= ARCHIVE_PROTOCOL:
        raise ArtifactError(f"The archive has protocol {protocol!r}; this version of "
                            f"jupyter_modelservice reads protocol 1 to {ARCHIVE_PROTOCOL}. Upgrade it.")
    name = manifest.get("file")
    if not isinstance(name, str) or not _FILE_RE.fullmatch(name):
        raise ArtifactError(f"The archive's manifest names the model file {name!r}; expected model.<ext>.")
    extra = sorted(set(zf.namelist()) - {"manifest.json", "metadata.json", name})
    if extra:
        raise ArtifactError(f"The archive holds unexpected entries {extra[:5]}; refusing it.")
    metadata = _read_json(zf, "metadata.json")
    validate_model_id(manifest.get("model_id"))
    validate_version(manifest.get("version"))
    for key, meta_key in (("model_id", "model_id"), ("version", "version"), ("sha256", "file_sha256")):
        if metadata.get(meta_key) != manifest.get(key):
            raise ArtifactIntegrityError(
                f"The archive's metadata and manifest disagree on {key} "
                f"({metadata.get(meta_key)!r} vs {manifest.get(key)!r}); refusing it.")
    sha = manifest.get("sha256")
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise ArtifactError("The archive's manifest has no valid sha256.")
    try:
        info = zf.getinfo(name)
    except KeyError as err:
        raise ArtifactError(f"The archive lacks its model file {name}.") from err
    if info.file_size != manifest.get("bytes"):
        raise ArtifactIntegrityError(f"The archive's model file is {info.file_size} bytes but the manifest "
                                     f"says {manifest.get('bytes')}; refusing it.")
    return manifest, metadata, info


def import_version(service: Any, archive: str | os.PathLike[str], *,
                   model_id: str | None = None) -> dict[str, Any]:
    """Add the version in ``archive`` to ``service``'s registry; returns ``{"ref", ...}``.

    ``model_id`` imports it under another id. The model file's sha256 must
    match the manifest and the metadata (`ArtifactIntegrityError` otherwise,
    and nothing is added). The version is the original number when free,
    else the next one.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except FileNotFoundError as err:
        raise ArtifactError(f"No archive at {archive}.") from err
    except (zipfile.BadZipFile, OSError) as err:
        raise ArtifactError(f"{archive} is not a model archive (a .zip written by "
                            f"`modelservice export`): {err}") from err
    with zf:
        manifest, metadata, info = _check_archive(zf)
        target_id = service._new_version_id(model_id or manifest["model_id"])
        original = int(manifest["version"])
        ext = _FILE_RE.fullmatch(manifest["file"]).group(1)
        fmt = manifest.get("file_format")
        if EXTENSIONS.get(fmt or "") != ext:
            raise ArtifactIntegrityError(
                f"The archive's manifest says {fmt!r} for its file {manifest['file']!r}; refusing it.")

        def copy(fh: Any) -> None:
            with zf.open(info) as member:
                head = member.read(1 << 20)  # enough to tell the format apart
                try:
                    found = detect_format(head)
                except ArtifactError:
                    found = None
                if found != fmt or EXTENSIONS.get(found or "") != ext:
                    raise ArtifactIntegrityError(
                        f"The archive's model file is not a {manifest.get('file_format')} file; refusing it.")
                fh.write(head)
                while chunk := member.read(_CHUNK):
                    fh.write(chunk)

        staged = service.store.stage(model_path(target_id, original, fmt), copy)
        try:
            if staged.sha256 != manifest["sha256"] or staged.nbytes != manifest["bytes"]:
                raise ArtifactIntegrityError(
                    f"The model file in {archive} has sha256 {staged.sha256} but the archive records "
                    f"{manifest['sha256']}; it was changed or damaged, and was not imported.")
            version = _register(service, target_id, original, metadata, manifest, archive)
            staged = replace(staged, relpath=model_path(target_id, version, fmt))
            try:
                service.store.publish(staged)
            except BaseException:
                service.registry.delete(target_id, version)
                raise
        except BaseException:
            service.store.discard(staged)
            raise
    ref = ModelRef(target_id, version)
    service._update_row(ref, {"artifact_state": "ready"})
    return {"ref": str(ref), "model_id": target_id, "version": version,
            "original": f"{manifest['model_id']}:{original}", "sha256": staged.sha256,
            "bytes": staged.nbytes, "kept_version": version == original}


def _register(service: Any, model_id: str, original: int, metadata: dict[str, Any],
              manifest: dict[str, Any], archive: Any) -> int:
    """Insert the pending row: the original version when free, else the next; return it."""
    row = {k: v for k, v in metadata.items() if k in COLUMNS}
    row.update(model_id=model_id, file_format=manifest["file_format"], file_sha256=manifest["sha256"],
               file_bytes=manifest["bytes"], artifact_state="pending", status="saved")
    row.setdefault("model_class", "unknown")
    row.setdefault("training_date", utcnow())
    event = {"event": "imported", "details": {
        "archive": os.path.basename(os.fspath(archive)), "original": f"{manifest['model_id']}:{original}",
        "original_status": metadata.get("status"), "exported_at": manifest.get("exported_at")}}
    # the original number only if it was never used here: a deleted version's number is not reused
    candidates = [] if service.registry.events(model_id, original) else [original]
    for _attempt in range(50):
        version = candidates.pop() if candidates else service.registry.next_version(model_id)
        row.update(version=version, file_path=model_path(model_id, version, manifest["file_format"]))
        if insert_version(service.registry, dict(row), event):
            return version
    raise ArtifactError(f"Could not find a free version for {model_id} after 50 attempts; "
                        "is another process importing the same id?")
