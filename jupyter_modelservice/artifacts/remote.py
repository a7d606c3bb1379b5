"""`FsspecStore`: model files under an fsspec URL (``s3://bucket/prefix``, ``gs://…``).

The same interface and rules as :class:`~jupyter_modelservice.artifacts.local.LocalStore`:
`stage` serializes while hashing (our own sha256: an S3 ETag is not a
content hash), the caller registers the row as pending, and `publish` makes
the file appear under its final key, complete or not at all.

Two ways to stage, chosen from the file system:

* object stores (S3, GCS, Azure, memory): a PUT is atomic, so the bytes are
  staged in a local temp file and `publish` uploads them to the final key in
  one request (a multipart upload becomes visible only when it completes and
  is aborted on failure). The temp file lives in the store's own staging
  folder (`FsspecStore.staging_dir`), so that ``gc`` can remove what a killed
  save left there, and abort its incomplete multipart upload
  (`FsspecStore.clean_abandoned`).
* other file systems (SFTP, HDFS, SMB, …): the bytes are streamed to a
  ``.tmp-*`` object beside the final key and `publish` moves it into place;
  ``gc`` can find temp objects a crash left behind.

``atomic_put=False`` forces the second way on an object store.

Every failure of the store itself (unreachable endpoint, timeout, access
denied, no such bucket) is raised as a `StoreError` naming the store URL
(without secrets) and what to check; S3 requests give up after a bounded
time (`S3_CONFIG`), so an interactive user hears of a network problem in
about a second instead of after minutes of retries.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, Any

from ..exceptions import ArtifactError, InvalidInputError, StoreError
from .local import TEMP_PREFIX
from .remote_io import GuardedReader, HashingWriter
from .store import Staged, check_relpath
from .store_errors import secret_values, store_errors

__all__ = ["ATOMIC_PUT_PROTOCOLS", "S3_CONFIG", "S3_RETRIES", "FsspecStore"]

logger = logging.getLogger(__name__)

#: Protocols whose writes become visible all at once, only when complete.
ATOMIC_PUT_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"})

#: botocore settings of an S3 store unless ``storage_options["config_kwargs"]`` sets them: a
#: refused connection fails in about a second, a silent endpoint after 2 x read_timeout.
S3_CONFIG: dict[str, Any] = {"connect_timeout": 3, "read_timeout": 15,
                             "retries": {"mode": "standard", "total_max_attempts": 2}}
#: How often s3fs repeats a failed request on top of botocore's attempts, unless
#: ``storage_options["retries"]`` says otherwise (s3fs's own default, 5, multiplies them).
S3_RETRIES = 1


class FsspecStore:
    """Model files under a URL understood by fsspec.

    Parameters
    ----------
    url : str
        ``"s3://bucket/prefix"`` or any fsspec URL; files live under it as
        ``<model_id>/v<N>.<ext>``.
    storage_options : dict, optional
        Passed to the fsspec file system, e.g. ``{"endpoint_url": ..., "key": ...,
        "secret": ...}`` for S3. For S3, ``config_kwargs`` entries missing from it
        are taken from :data:`S3_CONFIG` (timeouts, attempts) and ``retries``
        (s3fs's own repetitions) defaults to :data:`S3_RETRIES`.
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

    transactional = False  # publish uploads on its own, after the pending row is committed
    sidecars = True
    streams = True

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None, *,
                 atomic_put: bool | None = None) -> None:
        try:
            import fsspec
        except ImportError as err:
            raise InvalidInputError(
                f"models_directory {url!r} needs fsspec (and s3fs for s3://): "
                "pip install 'jupyter_modelservice[s3]'."
            ) from err
        options = dict(storage_options or {})
        self._secrets = secret_values(options)
        s3 = fsspec.core.split_protocol(url)[0] in ("s3", "s3a")
        retries = int(options.pop("retries", S3_RETRIES)) if s3 else 1
        if s3:  # bounded waits; a private instance, as its retries are set below
            options["config_kwargs"] = {**S3_CONFIG, **(options.get("config_kwargs") or {})}
            options["skip_instance_cache"] = True
        try:
            self.fs, root = fsspec.core.url_to_fs(url, **options)
        except (ImportError, ValueError) as err:
            raise InvalidInputError(f"Cannot open models_directory {url!r}: {err}") from err
        if s3:
            self.fs.retries = max(1, retries)
        self._endpoint = str(options.get("endpoint_url") or "")
        self.root = root.rstrip("/")
        if not self.root:
            raise InvalidInputError(
                f"models_directory {url!r} names no bucket or folder; use e.g. 's3://bucket/models'."
            )
        self.url = self.fs.unstrip_protocol(self.root)
        marker = self.fs.root_marker
        parts = (self.root.removeprefix(marker) if marker else self.root).split("/")
        if any(part in ("", ".", "..") for part in parts):
            clean = marker + "/".join(p for p in parts if p not in ("", "."))
            raise InvalidInputError(
                f"models_directory {url!r} has an empty, '.' or '..' path segment: the store would "
                "keep the files under keys its listings do not show, so verify and gc could not see "
                f"them. Use {self.fs.unstrip_protocol(clean)!r}."
            )
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self.atomic_put = (bool(ATOMIC_PUT_PROTOCOLS.intersection(protocols))
                           if atomic_put is None else atomic_put)

    def __repr__(self) -> str:
        return f"FsspecStore({self.url!r})"

    # -- paths -------------------------------------------------------------
    def key(self, relpath: str) -> str:
        """The file system path of ``relpath``; refused if it could leave the prefix.

        Only plain ``name/name`` paths are accepted (`check_relpath`).
        """
        return f"{self.root}/{'/'.join(check_relpath(relpath, self.url))}"

    def location(self, relpath: str) -> str:
        """The URL of ``relpath`` (``s3://bucket/prefix/rf/v1.joblib``)."""
        return self.fs.unstrip_protocol(self.key(relpath))

    def _temp_key(self, relpath: str) -> str:
        final = self.key(relpath)
        folder, _, name = final.rpartition("/")
        return f"{folder}/{TEMP_PREFIX}{name}-{uuid.uuid4().hex[:12]}"

    def _guard(self, doing: str, *, missing_ok: bool = False) -> AbstractContextManager[None]:
        """Every call to ``self.fs`` runs inside this: its failures become `StoreError`."""
        return store_errors(self.url, doing, secrets=self._secrets, missing_ok=missing_ok)

    @property
    def staging_dir(self) -> Path:
        """The local folder where saves to this store stage their bytes before the upload.

        One per user, store URL and endpoint, under the system temp folder;
        ``gc`` removes what killed saves left there (`clean_abandoned`).
        """
        owner = str(os.getuid()) if hasattr(os, "getuid") else "user"
        digest = hashlib.sha256(f"{self.url}\n{self._endpoint}".encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"jupyter_modelservice-{owner}" / "staging" / digest

    # -- the write protocol --------------------------------------------------
    def stage(self, relpath: str, write: Callable[[IO[bytes]], None]) -> Staged:
        """Serialize with ``write(fileobj)`` into a temp file or object, hashing on the way."""
        self.key(relpath)
        if self.atomic_put:
            return self._stage_local(relpath, write)
        temp = self._temp_key(relpath)
        doing = f"writing {relpath}"
        try:
            with self._guard(doing):
                raw = self.fs.open(temp, "wb")
            try:
                writer = HashingWriter(raw, guard=lambda: self._guard(doing))
                write(writer)  # type: ignore[arg-type]
            finally:
                with self._guard(doing):
                    raw.close()
        except BaseException:
            self._discard_remote(temp)
            raise
        return Staged(relpath, temp, writer.digests.sha256, writer.nbytes, writer.digests.blake3,
                      writer.digests.chunks)

    def _stage_local(self, relpath: str, write: Callable[[IO[bytes]], None]) -> Staged:
        folder = self.staging_dir
        folder.parent.parent.mkdir(mode=0o700, exist_ok=True)
        if hasattr(os, "getuid") and folder.parent.parent.stat().st_uid != os.getuid():
            raise ArtifactError(f"{folder.parent.parent} belongs to another user; remove it or set "
                                "TMPDIR to a folder of your own.")
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{relpath.replace('/', '--')}-", dir=folder)
        temp = Path(name)
        try:
            with os.fdopen(fd, "wb") as raw:
                writer = HashingWriter(raw)
                write(writer)  # type: ignore[arg-type]
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return Staged(relpath, temp, writer.digests.sha256, writer.nbytes, writer.digests.blake3,
                      writer.digests.chunks)

    def publish(self, staged: Staged) -> None:
        """Make the staged bytes appear under their final key, all at once."""
        final = self.key(staged.relpath)
        with self._guard(f"uploading {staged.relpath}"):
            if isinstance(staged.temp, Path):
                self.fs.put_file(os.fspath(staged.temp), final)
            else:
                self.fs.mv(staged.temp, final)
            self.fs.invalidate_cache(final)
        if isinstance(staged.temp, Path):
            staged.temp.unlink(missing_ok=True)

    def discard(self, staged: Staged) -> None:
        """Remove a staged temp file or object that will not be published.

        Never raises for the store: a temp object that cannot be removed now
        (the store is unreachable) is logged and left to ``gc``.
        """
        if isinstance(staged.temp, Path):
            staged.temp.unlink(missing_ok=True)
        else:
            self._discard_remote(staged.temp)

    def _discard_remote(self, temp: str) -> None:
        try:
            self._remove(temp)
        except StoreError as err:
            logger.warning("%s; gc removes the temp object later", err)

    # -- plain file operations -----------------------------------------------
    def read_bytes(self, relpath: str) -> bytes:
        """The whole content of a file; `ArtifactError` when it is missing."""
        key = self.key(relpath)
        try:
            with self._guard(f"reading {relpath}", missing_ok=True):
                return self.fs.cat_file(key)
        except FileNotFoundError as err:
            raise ArtifactError(f"Model file {self.fs.unstrip_protocol(key)} is missing.") from err

    def open(self, relpath: str) -> IO[bytes]:
        """``relpath`` opened for reading: its reads fail with a `StoreError` as `read_bytes` does."""
        key = self.key(relpath)
        doing = f"reading {relpath}"
        try:
            with self._guard(doing, missing_ok=True):
                raw = self.fs.open(key, "rb")
        except FileNotFoundError as err:
            raise ArtifactError(f"Model file {self.fs.unstrip_protocol(key)} is missing.") from err
        return GuardedReader(raw, guard=lambda: self._guard(doing))  # type: ignore[return-value]

    def write_text(self, relpath: str, text: str) -> None:
        """Write a small text file so that readers see the old or the new content."""
        final = self.key(relpath)
        data = text.encode("utf-8")
        with self._guard(f"writing {relpath}"):
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
        with self._guard(f"looking for {relpath}"):
            self.fs.invalidate_cache(key)
            return bool(self.fs.exists(key))

    def delete(self, relpath: str) -> None:
        """Remove a file if present."""
        self._remove(self.key(relpath))

    def iter_files(self) -> Iterator[str]:
        """Relative paths of every file under the prefix, temp files included."""
        try:
            with self._guard("listing its files", missing_ok=True):
                self.fs.invalidate_cache(self.root)
                found = self.fs.find(self.root)
        except FileNotFoundError:
            return
        for path in sorted(found):
            path = self.fs._strip_protocol(path)
            if path.startswith(self.root + "/"):
                yield path[len(self.root) + 1:]

    def _remove(self, key: str) -> None:
        try:
            with self._guard(f"removing {key.removeprefix(self.root + '/')}", missing_ok=True):
                self.fs.rm_file(key)
        except FileNotFoundError:
            pass
        self.fs.invalidate_cache(key)

    # -- what killed saves leave behind ----------------------------------------
    def clean_abandoned(self, *, grace: float, now: float | None = None, dry_run: bool = False
                        ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Remove local stages and abort multipart uploads older than ``grace`` seconds.

        A save killed during its upload leaves its staged copy in
        `staging_dir` and, for a large file, an incomplete S3 multipart upload
        (invisible in listings, but stored and billed). Younger ones may
        belong to a save still running and are kept. Only this store's
        staging folder and uploads under its prefix are looked at.

        Returns
        -------
        removed, kept : list of dict
            ``{"path", "bytes", "reason"}`` (``kept`` without ``bytes``), which
            `jupyter_modelservice.maintenance.collect_garbage` reports.
        """
        now = time.time() if now is None else now
        removed: list[dict[str, Any]] = []
        kept: list[dict[str, Any]] = []
        folder = self.staging_dir
        for path in sorted(folder.glob(f"{TEMP_PREFIX}*")) if folder.is_dir() else ():
            try:
                info = path.stat()
            except FileNotFoundError:  # its save just finished
                continue
            if now - info.st_mtime < grace:
                kept.append({"path": str(path), "reason": "staged copy of a save that may be running"})
                continue
            if not dry_run:
                path.unlink(missing_ok=True)
            removed.append({"path": str(path), "bytes": info.st_size,
                            "reason": "staged copy of an interrupted save"})
        for upload in self._multipart_uploads():
            where = f"{self.fs.unstrip_protocol(upload['Bucket'] + '/' + upload['Key'])} " \
                    f"(upload {upload['UploadId'][:12]})"
            size, last_active = self._upload_activity(upload)
            if now - last_active < grace:
                kept.append({"path": where, "reason": "multipart upload of a save that may be running"})
                continue
            if not dry_run:
                with self._guard(f"aborting the incomplete upload of {upload['Key']}"):
                    self.fs.call_s3("abort_multipart_upload", Bucket=upload["Bucket"],
                                    Key=upload["Key"], UploadId=upload["UploadId"])
            removed.append({"path": where, "bytes": size,
                            "reason": "incomplete multipart upload of an interrupted save"})
        return removed, kept

    def _multipart_uploads(self) -> list[dict[str, Any]]:
        """Incomplete multipart uploads under the prefix (S3 only; others have none)."""
        if not hasattr(self.fs, "call_s3"):
            return []
        bucket, _, prefix = self.root.partition("/")
        params = {"Bucket": bucket, "Prefix": f"{prefix}/" if prefix else ""}
        uploads: list[dict[str, Any]] = []
        with self._guard("listing incomplete uploads"):
            while True:
                page = self.fs.call_s3("list_multipart_uploads", **params)
                uploads += [{**u, "Bucket": bucket} for u in page.get("Uploads", [])]
                if not page.get("IsTruncated"):
                    return uploads
                params.update(KeyMarker=page["NextKeyMarker"], UploadIdMarker=page["NextUploadIdMarker"])

    def _upload_activity(self, upload: dict[str, Any]) -> tuple[int, float]:
        """Bytes held by an incomplete upload's parts, and when it started or last got a part."""
        with self._guard(f"inspecting the incomplete upload of {upload['Key']}"):
            parts = self.fs.call_s3("list_parts", Bucket=upload["Bucket"], Key=upload["Key"],
                                    UploadId=upload["UploadId"]).get("Parts", [])
        times = [upload["Initiated"], *(part["LastModified"] for part in parts if part.get("LastModified"))]
        return sum(int(part.get("Size") or 0) for part in parts), max(t.timestamp() for t in times)
