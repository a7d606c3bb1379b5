"""What is in a model store: a scan of its files, their kinds, sizes, ages and hashes.

Works on a `LocalStore` (walking the folder without following links, so a
symlink is seen as a symlink) and on any store offering ``iter_files()``
(`FsspecStore`) or ``iter_stats()`` (`DatabaseStore`, which lists sizes without
reading the bytes). Nothing here deserializes a model file.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..artifacts.digests import Digests, stream_digests
from ..artifacts.local import TEMP_PREFIX, open_regular
from ..exceptions import ArtifactError
from ..ids import REGISTRY_FILES
from ..json_documents import MAX_BYTES, DocumentError
from ..sidecar import read_sidecar_document, sidecar_text

__all__ = ["LAYOUT_RE", "MAX_RESTORED_VERSION", "MAX_VERSION_GAP", "StoreFile", "check_restored_version",
           "comparable_row", "expected_path", "file_digest", "keeps_sidecars", "read_sidecar_file", "scan"]

#: ``<model_id>/v<N>.<ext>``: a model file or (``json``) its sidecar.
LAYOUT_RE = re.compile(r"(?P<model_id>[^/]+)/v(?P<version>[1-9][0-9]{0,8})\.(?P<ext>joblib|pkl|skops|json)")
#: Highest version number taken from a sidecar or an archive (above it, import with a new number).
MAX_RESTORED_VERSION = 1_000_000
#: Largest step an archive's version may skip past the id's next version and still be kept.
MAX_VERSION_GAP = 1_000


@dataclass(frozen=True)
class StoreFile:
    """One entry of the store.

    ``kind`` is ``"model"``, ``"sidecar"``, ``"temp"``, ``"registry"`` or
    ``"other"``; ``escapes`` is True for a symlink resolving outside the store.
    """

    relpath: str
    kind: str
    size: int | None
    mtime: float | None
    symlink: bool = False
    escapes: bool = False

    @property
    def model_id(self) -> str | None:
        match = LAYOUT_RE.fullmatch(self.relpath)
        return match["model_id"] if match else None

    @property
    def version(self) -> int | None:
        match = LAYOUT_RE.fullmatch(self.relpath)
        return int(match["version"]) if match else None


def _kind(relpath: str) -> str:
    name = relpath.rsplit("/", 1)[-1]
    if name.startswith(TEMP_PREFIX):
        return "temp"
    if relpath in REGISTRY_FILES:
        return "registry"
    match = LAYOUT_RE.fullmatch(relpath)
    if match:
        return "sidecar" if match["ext"] == "json" else "model"
    return "other"


def scan(store: Any) -> list[StoreFile]:
    """Every file of ``store``, sorted by path."""
    root = getattr(store, "root", None)
    if isinstance(root, Path):
        return sorted(_scan_local(root), key=lambda f: f.relpath)
    if hasattr(store, "iter_stats"):  # the database store: sizes and times without reading the bytes
        return [StoreFile(rel, _kind(rel), size, mtime) for rel, size, mtime in store.iter_stats()]
    if hasattr(store, "iter_files"):
        return [_remote_entry(store, rel) for rel in store.iter_files()]
    raise ArtifactError(f"Cannot list the files of {store!r}: it has no iter_files().")


def _scan_local(root: Path) -> Iterator[StoreFile]:
    if not root.exists():
        return
    real_root = root.resolve()
    for folder, dirs, names in os.walk(root, followlinks=False):
        base = Path(folder)
        for name in list(dirs):
            path = base / name
            if path.is_symlink():  # os.walk does not descend into it: report it as an entry
                yield _local_entry(path, root, real_root)
        for name in names:
            yield _local_entry(base / name, root, real_root)


def _local_entry(path: Path, root: Path, real_root: Path) -> StoreFile:
    relpath = path.relative_to(root).as_posix()
    link = path.is_symlink()
    escapes = False
    if link:
        target = path.resolve()
        escapes = target != real_root and real_root not in target.parents
    size: int | None
    mtime: float | None
    try:
        info = path.lstat()
        size, mtime = info.st_size, info.st_mtime
    except OSError:
        size = mtime = None
    return StoreFile(relpath, _kind(relpath), size, mtime, link, escapes)


def _remote_entry(store: Any, relpath: str) -> StoreFile:
    size: int | None = None
    mtime: float | None = None
    try:
        info = store.fs.info(store.key(relpath))
        size = info.get("size")
        for key in ("mtime", "LastModified", "last_modified", "created", "updated"):
            value = info.get(key)
            if isinstance(value, datetime):
                mtime = value.timestamp()
            elif isinstance(value, (int, float)):
                mtime = float(value)
            if mtime is not None:
                break
    except Exception:  # noqa: BLE001 - size and age are best effort on remote stores
        pass
    return StoreFile(relpath, _kind(relpath), size, mtime)


def keeps_sidecars(store: Any) -> bool:
    """Whether ``store`` keeps a JSON sidecar beside each model file (all but the database store,
    where the row is in the same database as the bytes)."""
    return bool(getattr(store, "sidecars", True))


def file_digest(store: Any, relpath: str) -> tuple[Digests, int]:
    """The digests (sha256, BLAKE3) and the size of a stored file, streamed for local stores.

    Raises `ArtifactError` when it is missing and `ArtifactIntegrityError` when
    its path resolves outside the store.
    """
    if isinstance(getattr(store, "root", None), Path):
        full = store.path(relpath)
        try:
            with open_regular(full) as fh:  # a named pipe would block: refused
                return stream_digests(fh)
        except FileNotFoundError as err:
            raise ArtifactError(f"Model file {full} is missing.") from err
    data = store.read_bytes(relpath)
    digests = Digests()
    digests.update(data)
    return digests, len(data)


def expected_path(model_id: str, version: int, file_format: str | None) -> str | None:
    """Where the layout puts the file of ``model_id:version`` in ``file_format``."""
    from ..artifacts.formats import EXTENSIONS, model_path

    return model_path(model_id, version, file_format) if file_format in EXTENSIONS else None


def comparable_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as its sidecar would hold it (NaN as None), without the protocol key and signature."""
    data = json.loads(sidecar_text(row))
    data.pop("sidecar_protocol", None)
    data.pop("signature", None)
    return data


def read_sidecar_file(store: Any, relpath: str) -> dict[str, Any]:
    """The checked content of the sidecar ``relpath`` (`read_sidecar_document`).

    Its size is checked before it is read, and only regular files are read.
    `ArtifactError` when it is missing, `DocumentError` (an `ArtifactError`
    too) when it is not an acceptable sidecar, `OSError` when it cannot be read.
    """
    what = f"the sidecar {relpath}"
    if isinstance(getattr(store, "root", None), Path):
        full = store.path(relpath)
        try:
            info = full.stat()
        except FileNotFoundError as err:
            raise ArtifactError(f"{what} is missing.") from err
        if not stat.S_ISREG(info.st_mode):
            raise DocumentError(f"{what} is not a regular file; it was not read.")
        if info.st_size > MAX_BYTES:
            raise DocumentError(f"{what} is {info.st_size} bytes; documents of at most {MAX_BYTES} bytes "
                                "are read.")
        with open(full, "rb") as fh:  # other OSErrors (permissions) propagate as they are
            data = fh.read(MAX_BYTES + 1)
    else:
        data = store.read_bytes(relpath)
    return read_sidecar_document(data, what)


def check_restored_version(version: Any, what: str, next_version: int | None = None) -> str | None:
    """Why ``version`` (from a sidecar or an archive) may not be used, or None when it may.

    It must be an integer from 1 to `MAX_RESTORED_VERSION` and, given the
    id's ``next_version``, at most `MAX_VERSION_GAP` past it: a forged huge
    number would make every later version number of the id unusable.
    """
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return f"{what} has version {version!r}; expected a positive integer"
    if version > MAX_RESTORED_VERSION:
        return (f"{what} has version {version}, above {MAX_RESTORED_VERSION}, the highest number "
                "taken from a sidecar or an archive")
    if next_version is not None and version > next_version + MAX_VERSION_GAP:
        return (f"{what} has version {version}, more than {MAX_VERSION_GAP} past the id's next version "
                f"{next_version}")
    return None
