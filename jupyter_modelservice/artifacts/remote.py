"""`FsspecStore`: model files under an fsspec URL (``s3://bucket/prefix``, ``gs://…``).

The same interface and rules as :class:`~jupyter_modelservice.artifacts.local.LocalStore`:
`stage` serializes while hashing (our own sha256: an S3 ETag is not a
content hash), the caller registers the row as pending, and `publish` makes
the file appear under its final key, complete or not at all.

Two ways to stage, chosen from the file system:

* object stores (S3, GCS, Azure, memory): a PUT is atomic, so the bytes are
  staged in a local temp file and `publish` uploads them to the final key in
  one request (a multipart upload becomes visible only when it completes and
  is aborted on failure). Nothing remote is left behind by a crash.
* other file systems (SFTP, HDFS, SMB, …): the bytes are streamed to a
  ``.tmp-*`` object beside the final key and `publish` moves it into place;
  ``gc`` can find temp objects a crash left behind.

``atomic_put=False`` forces the second way on an object store.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from ..exceptions import ArtifactError, ArtifactIntegrityError, InvalidInputError
from .local import TEMP_PREFIX, Staged

__all__ = ["ATOMIC_PUT_PROTOCOLS", "FsspecStore"]

#: Protocols whose writes become visible all at once, only when complete.
ATOMIC_PUT_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"})


class _HashingWriter:
    """A binary writer that hashes and counts what passes through to ``raw``."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._hash = hashlib.sha256()
        self.nbytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._raw.write(data)
        self._hash.update(data)
        size = memoryview(data).nbytes
        self.nbytes += size
        return size

    def tell(self) -> int:
        return self.nbytes

    def flush(self) -> None:
        self._raw.flush()

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


class FsspecStore:
    """Model files under a URL understood by fsspec.

    Parameters
    ----------
    url : str
        ``"s3://bucket/prefix"`` or any fsspec URL; files live under it as
        ``<model_id>/v<N>.<ext>``.
    storage_options : dict, optional
        Passed to the fsspec file system, e.g. ``{"endpoint_url": ..., "key": ...,
        "secret": ...}`` for S3.
    atomic_put : bool, optional
        Whether one write to the final key is atomic; guessed from the
        protocol when None (see :data:`ATOMIC_PUT_PROTOCOLS`).

    Attributes
    ----------
    fs : fsspec.AbstractFileSystem
    root : str
        The prefix inside the file system (``"bucket/prefix"``).
    url : str
        ``root`` with its protocol (``"s3://bucket/prefix"``).

    Examples
    --------
    >>> store = FsspecStore("memory://models")
    >>> staged = store.stage("rf/v1.bin", lambda fh: fh.write(b"abc"))
    >>> store.publish(staged)
    >>> store.read_bytes("rf/v1.bin")
    b'abc'
    """

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None, *,
                 atomic_put: bool | None = None) -> None:
        try:
            import fsspec
        except ImportError as err:
            raise InvalidInputError(
                f"models_directory {url!r} needs fsspec (and s3fs for s3://): "
                "pip install 'jupyter_modelservice[s3]'."
            ) from err
        try:
            self.fs, root = fsspec.core.url_to_fs(url, **(storage_options or {}))
        except (ImportError, ValueError) as err:
            raise InvalidInputError(f"Cannot open models_directory {url!r}: {err}") from err
        self.root = root.rstrip("/")
        if not self.root:
            raise InvalidInputError(
                f"models_directory {url!r} names no bucket or folder; use e.g. 's3://bucket/models'."
            )
        self.url = self.fs.unstrip_protocol(self.root)
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self.atomic_put = (bool(ATOMIC_PUT_PROTOCOLS.intersection(protocols))
                           if atomic_put is None else atomic_put)

    def __repr__(self) -> str:
        return f"FsspecStore({self.url!r})"

    # -- paths -------------------------------------------------------------
    def key(self, relpath: str) -> str:
        """The file system path of ``relpath``; refused if it could leave the prefix.

        Only plain ``name/name`` paths are accepted: no absolute paths, no
        ``.``/``..``/empty segments, no backslashes, no URLs.
        """
        text = str(relpath)
        parts = text.split("/")
        if (not text or text.startswith("/") or "\\" in text or "://" in text
                or any(p in ("", ".", "..") for p in parts)):
            raise ArtifactIntegrityError(
                f"{relpath!r} is not a plain relative path inside the models directory "
                f"{self.url}; refusing it."
            )
        return f"{self.root}/{text}"

    def location(self, relpath: str) -> str:
        """The URL of ``relpath`` (``s3://bucket/prefix/rf/v1.joblib``)."""
        return self.fs.unstrip_protocol(self.key(relpath))

    def _temp_key(self, relpath: str) -> str:
        final = self.key(relpath)
        folder, _, name = final.rpartition("/")
        return f"{folder}/{TEMP_PREFIX}{name}-{uuid.uuid4().hex[:12]}"

    # -- the write protocol --------------------------------------------------
    def stage(self, relpath: str, write: Callable[[IO[bytes]], None]) -> Staged:
        """Serialize with ``write(fileobj)`` into a temp file or object, hashing on the way."""
        self.key(relpath)
        if self.atomic_put:
            return self._stage_local(relpath, write)
        temp = self._temp_key(relpath)
        try:
            with self.fs.open(temp, "wb") as raw:
                writer = _HashingWriter(raw)
                write(writer)  # type: ignore[arg-type]
        except BaseException:
            self._remove(temp)
            raise
        return Staged(relpath, temp, writer.hexdigest(), writer.nbytes)  # type: ignore[arg-type]

    def _stage_local(self, relpath: str, write: Callable[[IO[bytes]], None]) -> Staged:
        fd, name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}modelservice-")
        temp = Path(name)
        try:
            with os.fdopen(fd, "wb") as raw:
                writer = _HashingWriter(raw)
                write(writer)  # type: ignore[arg-type]
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return Staged(relpath, temp, writer.hexdigest(), writer.nbytes)

    def publish(self, staged: Staged) -> None:
        """Make the staged bytes appear under their final key, all at once."""
        final = self.key(staged.relpath)
        if isinstance(staged.temp, Path):
            self.fs.put_file(os.fspath(staged.temp), final)
            staged.temp.unlink(missing_ok=True)
        else:
            self.fs.mv(staged.temp, final)
        self.fs.invalidate_cache(final)

    def discard(self, staged: Staged) -> None:
        """Remove a staged temp file or object that will not be published."""
        if isinstance(staged.temp, Path):
            staged.temp.unlink(missing_ok=True)
        else:
            self._remove(staged.temp)

    # -- plain file operations -----------------------------------------------
    def read_bytes(self, relpath: str) -> bytes:
        """The whole content of a file; `ArtifactError` when it is missing."""
        key = self.key(relpath)
        try:
            return self.fs.cat_file(key)
        except FileNotFoundError as err:
            raise ArtifactError(f"Model file {self.fs.unstrip_protocol(key)} is missing.") from err

    def write_text(self, relpath: str, text: str) -> None:
        """Write a small text file so that readers see the old or the new content."""
        final = self.key(relpath)
        data = text.encode("utf-8")
        if self.atomic_put:
            self.fs.pipe_file(final, data)
        else:
            temp = self._temp_key(relpath)
            self.fs.pipe_file(temp, data)
            self.fs.mv(temp, final)
        self.fs.invalidate_cache(final)

    def exists(self, relpath: str) -> bool:
        """Whether ``relpath`` exists (asks the server, not a cached listing)."""
        key = self.key(relpath)
        self.fs.invalidate_cache(key)
        return bool(self.fs.exists(key))

    def delete(self, relpath: str) -> None:
        """Remove a file if present."""
        self._remove(self.key(relpath))

    def iter_files(self) -> Iterator[str]:
        """Relative paths of every file under the prefix, temp files included."""
        self.fs.invalidate_cache(self.root)
        try:
            found = self.fs.find(self.root)
        except FileNotFoundError:
            return
        for path in sorted(found):
            path = self.fs._strip_protocol(path)
            if path.startswith(self.root + "/"):
                yield path[len(self.root) + 1:]

    def _remove(self, key: str) -> None:
        try:
            self.fs.rm_file(key)
        except FileNotFoundError:
            pass
        self.fs.invalidate_cache(key)
