"""Export one model version to a single ``.zip`` file and import it into another registry.

An archive holds three entries, stored uncompressed:

``manifest.json``
    ``{"archive_protocol": 1, "model_id", "version", "file", "file_format",
    "sha256", "bytes", "exported_at", "package_version"}``
``metadata.json``
    the version's registry row (the sidecar)
``model.<joblib|pkl|skops>``
    the model file, byte for byte

Import reads only these entries (nothing is extracted by name), refuses
compressed entries (their size on disk would not be known before reading),
reads the JSON entries through the one checked reader (size, depth, field
types), copies at most the manifest's size and checks the sha256 after. It
adds the version **under its original version number when that number is
free in the target registry and within `MAX_VERSION_GAP` of the id's next
version (at most `MAX_RESTORED_VERSION`), otherwise as the next version**;
``as_new_version=True`` always takes the next one. Imported versions start
with status ``saved``; the original reference and status are kept in an
``imported`` history event. Nothing is deserialized.

An archive is transport, not evidence: whoever handed it over chose both the
file and the hash in its manifest. Imported versions are **unverified**
(refused on load until a person confirms them with ``modelservice trust``)
unless the manifest carries a valid signature of the team key
(`jupyter_modelservice.signing`).
"""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..artifacts.formats import EXTENSIONS, detect_format, model_path
from ..exceptions import ArtifactError, ArtifactIntegrityError, InvalidInputError
from ..ids import ModelVersion, parse_ref, validate_model_id, validate_version
from ..json_documents import MAX_BYTES, json_text, read_document
from ..registry import Registry
from ..registry.database import COLUMNS
from ..registry.engine import utcnow
from ..sidecar import read_sidecar_document, sidecar_text
from ..signing import check_signature, sign
from .files import MAX_RESTORED_VERSION, MAX_VERSION_GAP, check_restored_version
from .rebuild import insert_version
from .report import Finding, Report

__all__ = ["ARCHIVE_PROTOCOL", "MANIFEST_FIELDS", "MAX_RESTORED_VERSION", "MAX_VERSION_GAP", "export_version",
           "import_version"]

ARCHIVE_PROTOCOL = 1
#: Allowed types of the manifest's fields.
MANIFEST_FIELDS: dict[str, tuple[type, ...]] = {
    "archive_protocol": (int,), "model_id": (str,), "version": (int,), "file": (str,), "file_format": (str,),
    "sha256": (str,), "bytes": (int,), "exported_at": (str,), "package_version": (str,), "signature": (dict,),
}
_FILE_RE = re.compile(r"model\.(joblib|pkl|skops)")
_CHUNK = 1 << 22


def export_version(service: Any, ref: str, archive: str | os.PathLike[str], *,
                   overwrite: bool = False) -> dict[str, Any]:
    """Write ``ref`` (``"id"`` for the latest or ``"id:3"``) and its metadata to ``archive``.

    The file's sha256 is checked first: a damaged file is not exported. The
    archive is written to a temp name and renamed, so it is complete or absent.
    Returns the manifest.
    """
    parsed = parse_ref(ref)
    row = service.registry.get(parsed.model_id, parsed.version)  # the registry's row: store-relative paths
    ref_text = str(ModelVersion.of(row))
    if not row.get("file_path") or row.get("artifact_state") != "ready":
        raise ArtifactError(f"{ref_text} has no saved file to export; call save_model({ref_text!r}) first"
                            + (" (its last save did not complete: run `modelservice verify --repair`)."
                               if row.get("artifact_state") == "pending" else "."))
    try:
        data = service.files.read_bytes(ModelVersion.of(row), row)
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
    signature = sign(row)  # None without a team key, or for a version that is itself unverified
    if signature is not None:
        manifest["signature"] = signature
    folder = target.parent if str(target.parent) else Path(".")
    fd, temp_name = tempfile.mkstemp(prefix=f".tmp-{target.name}-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("manifest.json", json_text(manifest, indent=2, sort_keys=True))
            zf.writestr("metadata.json", sidecar_text(row))
            zf.writestr(name, data)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return {**manifest, "archive": str(target)}


def _entry(zf: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    try:
        return zf.getinfo(name)
    except KeyError as err:
        raise ArtifactError(f"The archive has no {name}; it was not written by `modelservice export`.") from err


def _read_json(zf: zipfile.ZipFile, name: str) -> bytes:
    """The raw bytes of a JSON entry, read no further than the reader's size limit."""
    info = _entry(zf, name)
    if info.file_size > MAX_BYTES:
        raise ArtifactError(f"{name} in the archive is {info.file_size} bytes; documents of at most "
                            f"{MAX_BYTES} bytes are read.")
    with zf.open(info) as member:
        return member.read(MAX_BYTES + 1)


def _check_archive(zf: zipfile.ZipFile) -> tuple[dict[str, Any], dict[str, Any], zipfile.ZipInfo]:
    compressed = sorted(i.filename for i in zf.infolist()
                        if i.compress_type != zipfile.ZIP_STORED or i.compress_size != i.file_size)
    if compressed:
        raise ArtifactError(f"The archive's entries {compressed[:5]} are compressed; `modelservice export` "
                            "stores them uncompressed, so that nothing larger than the archive is ever "
                            "written. Refusing it; export the version again.")
    manifest = read_document(_read_json(zf, "manifest.json"), "manifest.json in the archive",
                             protocol_key="archive_protocol", max_protocol=ARCHIVE_PROTOCOL,
                             fields=MANIFEST_FIELDS)
    name = manifest.get("file")
    if not isinstance(name, str) or not _FILE_RE.fullmatch(name):
        raise ArtifactError(f"The archive's manifest names the model file {name!r}; expected model.<ext>.")
    extra = sorted(set(zf.namelist()) - {"manifest.json", "metadata.json", name})
    if extra:
        raise ArtifactError(f"The archive holds unexpected entries {extra[:5]}; refusing it.")
    if not isinstance(manifest.get("bytes"), int) or manifest["bytes"] < 0:
        raise ArtifactError(f"manifest.json in the archive: the field 'bytes' must be the model file's size "
                            f"(0 or more), not {manifest.get('bytes')!r}.")
    metadata = read_sidecar_document(_read_json(zf, "metadata.json"), "metadata.json in the archive")
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


def import_version(service: Any, archive: str | os.PathLike[str], *, model_id: str | None = None,
                   as_new_version: bool = False) -> Report:
    """Add the version in ``archive`` to ``service``'s registry.

    Parameters
    ----------
    service : ModelService
        The target registry.
    archive : path
        A ``.zip`` written by `export_version`.
    model_id : str, optional
        Import it under another id.
    as_new_version : bool, default False
        Add it as the id's next version. By default it keeps its original
        number when that is free, never used here and within
        `MAX_VERSION_GAP` of the next version (else the next version is
        taken if the number is in use; an out-of-range number is refused).

    Returns
    -------
    Report
        One change of kind ``imported``: ``ref`` (the version added), ``path``,
        ``bytes`` and ``details`` with ``model_id``, ``version``, ``original``,
        ``sha256``, ``kept_version`` and ``trust`` (``"unverified"`` unless the
        team key signed the archive).

    The model file's sha256 must match the manifest and the metadata
    (`ArtifactIntegrityError` otherwise, and nothing is added).
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
        target_id = validate_model_id(model_id or manifest["model_id"])
        service.registry.refuse_case_conflict(target_id)  # before any work; checked again under the lock
        original = int(manifest["version"])
        if not as_new_version:
            _check_original(service.registry, target_id, original)
        named = _FILE_RE.fullmatch(manifest["file"])
        assert named is not None  # _check_archive refused any other name
        ext = named.group(1)
        fmt = manifest.get("file_format")
        if not isinstance(fmt, str) or EXTENSIONS.get(fmt) != ext:
            raise ArtifactIntegrityError(
                f"The archive's manifest says {fmt!r} for its file {manifest['file']!r}; refusing it.")

        def copy(fh: Any) -> None:
            limit = manifest["bytes"]  # the manifest's size is the limit of what is written
            with zf.open(info) as member:
                head = member.read(min(1 << 20, limit + 1))  # enough to tell the format apart
                try:
                    found = detect_format(head)
                except ArtifactError:
                    found = None
                if found != fmt or EXTENSIONS.get(found or "") != ext:
                    raise ArtifactIntegrityError(
                        f"The archive's model file is not a {manifest.get('file_format')} file; refusing it.")
                written = len(head)
                fh.write(head)
                while written <= limit and (chunk := member.read(min(_CHUNK, limit + 1 - written))):
                    written += len(chunk)
                    fh.write(chunk)
                if written > limit:
                    raise ArtifactIntegrityError(f"The archive's model file is larger than the {limit} bytes "
                                                 "its manifest records; refusing it.")

        staged = service.store.stage(model_path(target_id, original, fmt), copy)
        try:
            if staged.sha256 != manifest["sha256"] or staged.nbytes != manifest["bytes"]:
                raise ArtifactIntegrityError(
                    f"The model file in {archive} has sha256 {staged.sha256} but the archive records "
                    f"{manifest['sha256']}; it was changed or damaged, and was not imported.")
            version, trust = _register(service.registry, target_id, None if as_new_version else original,
                                       metadata, manifest, archive, staged.load_digests)
            staged = replace(staged, relpath=model_path(target_id, version, fmt))
            try:  # the database store marks the version ready in the transaction that stores the bytes
                ready = service.files.publish(ModelVersion(target_id, version), staged)
            except BaseException:
                service.registry.delete(target_id, version)
                raise
        except BaseException:
            service.store.discard(staged)
            raise
    ref = ModelVersion(target_id, version)
    if ready is None:
        service.files.mark_ready(ref)
    details = {"model_id": target_id, "version": version, "original": f"{manifest['model_id']}:{original}",
               "sha256": staged.sha256, "kept_version": version == original, "trust": trust}
    report = Report("import")
    report.changes.append(Finding("imported", f"{details['original']} imported as {ref}", str(ref),
                                  staged.relpath, staged.nbytes, details))
    return report


def _check_original(registry: Registry, model_id: str, original: int) -> None:
    """`ArtifactError` when the archive's version number may not be kept in this registry."""
    problem = check_restored_version(original, "The archive", registry.next_version(model_id))
    if problem is not None:
        raise ArtifactError(f"{problem}. Import it with --as-new-version (as_new_version=True) "
                            f"to add it as the next version of {model_id}.")


def _register(registry: Registry, model_id: str, original: int | None, metadata: dict[str, Any],
              manifest: dict[str, Any], archive: Any, load_digests: dict[str, str | None]) -> tuple[int, str]:
    """Insert the pending row: ``original`` when free, else the next version; return it and its trust.

    The number is chosen and the row inserted in one transaction holding the id's write lock.
    """
    identity = {**metadata, "model_id": manifest["model_id"], "version": manifest["version"],
                "file_format": manifest["file_format"], "file_sha256": manifest["sha256"],
                "file_bytes": manifest["bytes"]}
    checked = check_signature(identity, manifest.get("signature"))
    row = {k: v for k, v in metadata.items() if k in COLUMNS}
    row.update(model_id=model_id, file_format=manifest["file_format"], file_sha256=manifest["sha256"],
               file_bytes=manifest["bytes"], **load_digests, artifact_state="pending", status="saved",
               trust="verified" if checked == "valid" else "unverified")
    row.setdefault("model_class", "unknown")
    row.setdefault("training_date", utcnow())
    original_ref = f"{manifest['model_id']}:{manifest['version']}"
    event = {"event": "imported", "details": {
        "archive": os.path.basename(os.fspath(archive)), "original": original_ref,
        "original_status": metadata.get("status"), "exported_at": manifest.get("exported_at"),
        "signature": checked}}
    with registry.atomic():
        if original is not None:
            _check_original(registry, model_id, original)  # again, now that no writer can move it
        # the original number only if it was never used here: a deleted version's number is not reused
        version = registry.allocate_version(model_id, prefer=original)
        row.update(version=version, file_path=model_path(model_id, version, manifest["file_format"]))
        inserted = insert_version(registry, row, event)
        assert inserted, "a version allocated under the lock is free"
    return version, row["trust"]
