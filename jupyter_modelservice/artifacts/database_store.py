"""`DatabaseStore`: model files kept in the registry database itself (``models_directory="db://"``).

For a team with a PostgreSQL server but no shared drive or bucket: the bytes
of each saved version are a row of the registry's ``model_blobs`` table
(``bytea`` on PostgreSQL, ``BLOB`` on SQLite), so every member who can reach
the database can load every model. The same interface and guarantees as
`LocalStore` and `FsspecStore`, with three differences:

* `stage` serializes into memory, hashing on the way, and refuses a model
  larger than `max_bytes` (default `DEFAULT_MAX_BYTES`) while it is being
  serialized: `ModelTooLargeError`, nothing written anywhere.
* `publish` stores the bytes in the registry's current transaction
  (``transactional``): `ModelFiles` publishes inside the transaction that
  marks the version ready, so a version is never ready without its bytes,
  and bytes never outlive their row (deleting a version deletes them).
* no sidecars (``sidecars`` is False): a sidecar is a copy of the row beside
  the file, for when the database is lost; here row and bytes live and die
  together, so there is nothing to rebuild from (``rebuild-index`` says so).

Paths keep the file layout (``rf/v1.joblib``): the registry records them as
for any store and `location` shows them as ``db://rf/v1.joblib``.

>>> from jupyter_modelservice.registry import Registry
>>> registry = Registry("sqlite://")
>>> version = registry.add_version({"model_id": "rf", "model_class": "Dummy"})
>>> store = DatabaseStore(registry)
>>> store.publish(store.stage("rf/v1.joblib", lambda fh: fh.write(b"abc")))
>>> store.read_bytes("rf/v1.joblib"), store.location("rf/v1.joblib")
(b'abc', 'db://rf/v1.joblib')
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Protocol

from ..exceptions import ArtifactError, InvalidInputError, ModelTooLargeError
from ..formatting import format_bytes
from ..redaction import redact_url
from .digests import Digests
from .store import Staged, check_relpath

__all__ = ["DATABASE_STORE", "DEFAULT_MAX_BYTES", "ENV_MAX_BYTES", "MAX_BYTES_CEILING", "DatabaseStore",
           "StagedBytes", "is_database_store", "max_bytes_setting"]

#: The ``models_directory`` that keeps model files in the registry database.
DATABASE_STORE = "db://"
#: Largest model file kept in the database unless configured otherwise: 64 MiB.
DEFAULT_MAX_BYTES = 64 * 2**20
#: The highest limit that may be configured: SQLite's default maximum value size (PostgreSQL allows 1 GiB).
MAX_BYTES_CEILING = 1_000_000_000
#: Environment variable setting the limit (bytes) where ``storage_options`` does not.
ENV_MAX_BYTES = "MODELSERVICE_DB_MAX_BYTES"

_MODEL_PATH = re.compile(r"(?P<model_id>[^/]+)/v(?P<version>[1-9][0-9]{0,8})\.(?:joblib|pkl|skops)")


class _BytesTable(Protocol):
    """What the store needs of the registry (`jupyter_modelservice.registry.Registry`)."""

    url: str

    def put_model_bytes(self, model_id: str, version: int, path: str, data: bytes | memoryview) -> None: ...

    def model_bytes(self, model_id: str, version: int, path: str) -> bytes | None: ...

    def has_model_bytes(self, model_id: str, version: int, path: str) -> bool: ...

    def delete_model_bytes(self, model_id: str, version: int, path: str | None = None) -> int: ...

    def model_bytes_index(self) -> list[dict[str, Any]]: ...


def is_database_store(models_directory: str | os.PathLike[str]) -> bool:
    """Whether ``models_directory`` names the database store (``"db://"``).

    Anything else starting with ``db:`` is refused (`InvalidInputError`):
    the store has no folder or name of its own.
    """
    text = os.fspath(models_directory)
    if not text.lower().startswith("db:"):
        return False
    if text != DATABASE_STORE:
        raise InvalidInputError(
            f"models_directory {text!r}: the database store is spelled exactly {DATABASE_STORE!r} "
            "(the bytes go to the registry database named by db_type and db_url)."
        )
    return True


def max_bytes_setting(value: Any = None) -> int:
    """The size limit in bytes: ``value`` (from ``storage_options["max_bytes"]``), else the
    environment variable `ENV_MAX_BYTES`, else `DEFAULT_MAX_BYTES`; at most `MAX_BYTES_CEILING`."""
    source = "storage_options['max_bytes']"
    if value is None and os.environ.get(ENV_MAX_BYTES, "").strip():
        source, value = ENV_MAX_BYTES, os.environ[ENV_MAX_BYTES].strip()
        try:
            value = int(value.replace("_", ""))
        except ValueError:
            pass
    if value is None:
        return DEFAULT_MAX_BYTES
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_BYTES_CEILING:
        raise InvalidInputError(
            f"{source} must be a number of bytes from 1 to {MAX_BYTES_CEILING:,} (the largest value "
            f"the registry databases store), not {value!r}; models larger than that belong in a file "
            "store (a shared folder or an s3:// URL as models_directory)."
        )
    return value


@dataclass(frozen=True)
class StagedBytes(Staged):
    """Staged bytes of the database store: they wait in memory (``data``, a view without copy),
    not in a temp file (``temp`` only says so)."""

    data: memoryview = field(default_factory=lambda: memoryview(b""), repr=False)


class _LimitedWriter:
    """A binary writer into memory that hashes what passes and refuses to grow past ``limit``."""

    def __init__(self, limit: int, refuse: Callable[[int], ModelTooLargeError]) -> None:
        self._data = bytearray()
        self._hash = Digests()
        self._limit = limit
        self._refuse = refuse

    def write(self, data: bytes | bytearray | memoryview) -> int:
        size = memoryview(data).nbytes
        if len(self._data) + size > self._limit:
            raise self._refuse(len(self._data) + size)
        self._data += data
        self._hash.update(data)
        return size

    def tell(self) -> int:
        return len(self._data)

    def flush(self) -> None:
        pass

    def staged(self, relpath: str) -> StagedBytes:
        return StagedBytes(relpath, "<memory>", self._hash.sha256, len(self._data), self._hash.blake3,
                           self._hash.chunks, memoryview(self._data))


class DatabaseStore:
    """Model files as rows of the registry database's ``model_blobs`` table.

    Parameters
    ----------
    registry : Registry
        The registry whose database holds the bytes (the service's own).
    max_bytes : int, optional
        Largest model file accepted, in bytes; default `DEFAULT_MAX_BYTES`
        (64 MiB) or the environment variable `ENV_MAX_BYTES`, at most
        `MAX_BYTES_CEILING`. Set it with ``ModelService(...,
        models_directory="db://", storage_options={"max_bytes": ...})``.

    Attributes
    ----------
    url : str
        ``"db://"``.
    transactional : bool
        True: `publish` runs in the registry's current transaction.
    sidecars : bool
        False: no JSON sidecars are kept (the row is in the same database).
    streams : bool
        False: a file arrives whole in one query, so loads check it whole.
    """

    transactional = True
    sidecars = False
    streams = False

    def __init__(self, registry: _BytesTable, max_bytes: int | None = None) -> None:
        self.registry = registry
        self.max_bytes = max_bytes_setting(max_bytes)
        self.url = DATABASE_STORE

    def __repr__(self) -> str:
        return f"DatabaseStore({redact_url(self.registry.url)!r}, max_bytes={self.max_bytes})"

    # -- paths ---------------------------------------------------------------
    def _key(self, relpath: str) -> tuple[str, int] | None:
        """``(model_id, version)`` of a model file path (`check_relpath`); None for any other plain path."""
        check_relpath(relpath, DATABASE_STORE)
        match = _MODEL_PATH.fullmatch(str(relpath))
        return (match["model_id"], int(match["version"])) if match else None

    def _model_key(self, relpath: str) -> tuple[str, int]:
        key = self._key(relpath)
        if key is None:
            raise ArtifactError(
                f"{relpath!r} is not a model file path (<model_id>/v<N>.<joblib|pkl|skops>); the database "
                "store keeps only model files."
            )
        return key

    def location(self, relpath: str) -> str:
        """``db://<relpath>``: where the bytes of ``relpath`` are, as a user reads it."""
        self._key(relpath)
        return f"{DATABASE_STORE}{relpath}"

    # -- the write protocol ----------------------------------------------------
    def stage(self, relpath: str, write: Callable[[IO[bytes]], None]) -> StagedBytes:
        """Serialize with ``write(fileobj)`` into memory, hashing on the way.

        `ModelTooLargeError` as soon as the bytes pass `max_bytes`: nothing
        is stored, and the serializer stops there.
        """
        self._model_key(relpath)
        writer = _LimitedWriter(self.max_bytes, lambda nbytes: self._too_large(relpath, nbytes))
        write(writer)  # type: ignore[arg-type]
        return writer.staged(relpath)

    def check_size(self, relpath: str, nbytes: int) -> None:
        """`ModelTooLargeError` when a file of ``nbytes`` may not be kept here (before it is staged)."""
        if nbytes > self.max_bytes:
            raise self._too_large(relpath, nbytes)

    def _too_large(self, relpath: str, nbytes: int) -> ModelTooLargeError:
        model_id, version = self._model_key(relpath)
        return ModelTooLargeError(
            f"{model_id}:{version} ({relpath}) is larger than {format_bytes(self.max_bytes)}, the limit of "
            f"models kept in the registry database (models_directory={DATABASE_STORE!r}); nothing "
            "was written. Keep models this large in a file store that the team shares instead: "
            "models_directory='s3://bucket/models' (any fsspec URL) or a folder every member can "
            "reach, with the same db_url; or raise the limit with "
            f"storage_options={{'max_bytes': ...}} (at most {MAX_BYTES_CEILING:,} bytes).",
            nbytes, self.max_bytes,
        )

    def publish(self, staged: Staged) -> None:
        """Store the staged bytes as the version's bytes (in the current registry transaction).

        `ModelNotFoundError` when the version has no registry row: bytes never exist without one.
        """
        model_id, version = self._model_key(staged.relpath)
        if not isinstance(staged, StagedBytes):
            raise ArtifactError(f"{staged.relpath} was not staged by the database store; stage it with it.")
        self.registry.put_model_bytes(model_id, version, staged.relpath, staged.data)

    def discard(self, staged: Staged) -> None:
        """Nothing to remove: staged bytes live only in memory, freed with ``staged``."""

    # -- plain file operations ---------------------------------------------------
    def read_bytes(self, relpath: str) -> bytes:
        """The stored bytes of ``relpath``, fetched once; `ArtifactError` when there are none."""
        key = self._key(relpath)
        data = None if key is None else self.registry.model_bytes(*key, relpath)
        if data is None:
            raise ArtifactError(f"Model file {self.location(relpath)} is missing: the registry database holds "
                                "no bytes for it.")
        return data

    def open(self, relpath: str) -> IO[bytes]:
        """The stored bytes of ``relpath`` as a file object (fetched whole, like `read_bytes`)."""
        return io.BytesIO(self.read_bytes(relpath))

    def write_text(self, relpath: str, text: str) -> None:
        """Refused: this store keeps model files only (``sidecars`` is False)."""
        raise ArtifactError(
            f"The database store keeps no sidecars or other files ({relpath!r}): a version's row and "
            "its bytes are in the same database."
        )

    def exists(self, relpath: str) -> bool:
        """Whether bytes are stored for ``relpath``."""
        key = self._key(relpath)
        return key is not None and self.registry.has_model_bytes(*key, relpath)

    def delete(self, relpath: str) -> None:
        """Remove the bytes of ``relpath`` if stored (a path of no model file: nothing to do)."""
        key = self._key(relpath)
        if key is not None:
            self.registry.delete_model_bytes(*key, relpath)

    def iter_files(self) -> Iterator[str]:
        """The paths of every stored model file."""
        for entry in self.registry.model_bytes_index():
            yield entry["path"]

    def iter_stats(self) -> Iterator[tuple[str, int, float | None]]:
        """``(path, size, stored at as epoch seconds)`` of every stored model file, bytes unread."""
        for entry in self.registry.model_bytes_index():
            try:
                when: float | None = datetime.fromisoformat(entry["stored_at"]).timestamp()
            except (TypeError, ValueError):
                when = None
            yield entry["path"], int(entry["nbytes"]), when
