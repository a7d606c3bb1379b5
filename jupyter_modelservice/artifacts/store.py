"""The contract of a model store, and the one rule for the paths inside it.

A store keeps the files of a registry under store-relative paths
(``<model_id>/v<N>.<ext>`` and its sidecar ``<model_id>/v<N>.json``), written
by the save protocol: `Store.stage` serializes and hashes, the caller
registers the row as pending, `Store.publish` makes the file appear under its
final path complete or not at all. `LocalStore` (a folder) and `FsspecStore`
(an fsspec URL such as ``s3://bucket/prefix``) implement it; so can a fake
kept in memory for tests. `DatabaseStore` (``models_directory="db://"``)
keeps the bytes in the registry database: its `publish` is *transactional*
(the caller publishes inside the transaction that marks the version ready)
and it keeps no *sidecars*.

Every path given to a store passes `check_relpath` first, whatever the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

from ..exceptions import ArtifactIntegrityError

__all__ = ["Staged", "Store", "check_relpath"]


@dataclass(frozen=True)
class Staged:
    """A fully written, hashed temp file (a local `Path`) or object (a key) waiting to be published."""

    relpath: str
    temp: Path | str
    sha256: str
    nbytes: int
    blake3: str | None = None  # the digest loads check (artifacts.digests)
    chunks: str | None = None  # its chunk digests, for loads that check while they read

    @property
    def load_digests(self) -> dict[str, str | None]:
        """The row's columns holding the digests a load checks (``file_blake3``, ``file_chunks``)."""
        return {"file_blake3": self.blake3, "file_chunks": self.chunks}


def check_relpath(relpath: str, store: str) -> list[str]:
    """The segments of ``relpath`` if it is a plain relative path inside a store, else `ArtifactIntegrityError`.

    Plain means: not empty, not absolute, no backslash, no NUL, no URL
    (``://``), no empty, ``.`` or ``..`` segment. ``store`` names the store
    in the message.

    >>> check_relpath("rf/v1.joblib", "./models")
    ['rf', 'v1.joblib']
    """
    text = str(relpath)
    parts = text.split("/")
    if (not text or text.startswith("/") or "\\" in text or "\x00" in text or "://" in text
            or any(part in ("", ".", "..") for part in parts)):
        raise ArtifactIntegrityError(
            f"{relpath!r} is not a plain relative path inside the models directory {store} (it could "
            "name a place outside it); refusing it."
        )
    return parts


@runtime_checkable
class Store(Protocol):
    """What `ModelFiles`, maintenance and migration need from a model store.

    Paths are store-relative and checked with `check_relpath`; a missing
    file is an `ArtifactError`, a path that would leave the store an
    `ArtifactIntegrityError`, a failure of the store itself a `StoreError`.
    """

    #: Where the store is, as a user would name it (a folder, or a URL without secrets).
    url: str
    #: Whether `publish` runs in the registry's current transaction (`DatabaseStore`): the
    #: version is then marked ready in the transaction that stores its bytes. File stores
    #: publish on their own, after the pending row is committed.
    transactional: bool
    #: Whether a JSON sidecar is kept beside each model file (False for `DatabaseStore`: the
    #: row lives in the same database as the bytes).
    sidecars: bool
    #: Whether `open` reads a file as it goes (so a load can check it chunk by chunk while it
    #: deserializes); False when a file arrives whole in one request (`DatabaseStore`).
    streams: bool

    def location(self, relpath: str) -> str:
        """The path or URL a user opens to reach ``relpath``."""
        ...

    def stage(self, relpath: str, write: Callable[[IO[bytes]], None]) -> Staged:
        """Serialize with ``write(fileobj)`` into a temp file or object, hashing on the way."""
        ...

    def publish(self, staged: Staged) -> None:
        """Make a staged file appear under its final path, complete or not at all."""
        ...

    def discard(self, staged: Staged) -> None:
        """Remove a staged temp file that will not be published."""
        ...

    def read_bytes(self, relpath: str) -> bytes:
        """The whole content of a file."""
        ...

    def open(self, relpath: str) -> IO[bytes]:
        """A binary file object reading ``relpath`` from its start (its failures as `read_bytes`'s)."""
        ...

    def write_text(self, relpath: str, text: str) -> None:
        """Write a small text file (a sidecar) so that readers see the old or the new content."""
        ...

    def exists(self, relpath: str) -> bool:
        """Whether ``relpath`` exists (asking the store, not a cache)."""
        ...

    def delete(self, relpath: str) -> None:
        """Remove a file if present."""
        ...
