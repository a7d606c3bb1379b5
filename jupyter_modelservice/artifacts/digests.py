"""The two digests of a model file: sha256 (published) and BLAKE3 (checked on load).

sha256 is the digest a user sees, exports and can check with ``sha256sum``.
BLAKE3 is as strong for integrity and several times faster (SIMD: ~5 GB/s on
one core where sha256 runs at ~1.5 GB/s), so a load checks it instead: the
check costs a small part of deserializing. It runs on the calling thread only:
the package's multithreaded mode starts a thread pool that a forked child
(multiprocessing's default start method on Linux) inherits without its
threads, and would wait for forever.
Both are computed from the same bytes when a file is written and both are kept
in the registry row; a row without a BLAKE3 (a file saved before it was kept,
restored from a sidecar, imported) is checked against its sha256.

The same pass records the file's *chunk digests* (`ChunkDigests`): the BLAKE3 of
each 1 MiB leaf, grouped into at most 64 chunks whose digest is the BLAKE3 of
their leaves' digests. They let a load check the file chunk by chunk while it
deserializes (`verified_stream`): no byte reaches the reader before the chunk
holding it has matched, and the whole file is never held in memory twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from dataclasses import dataclass
from typing import Any, Protocol

import blake3

from ..exceptions import ArtifactIntegrityError

__all__ = ["ChunkDigests", "Digests", "blake3_bytes", "file_digests", "stream_digests"]

_CHUNK = 1 << 20
#: Size of a leaf of the chunk digests, and the most chunks a file's record lists.
LEAF = 1 << 20
MAX_CHUNKS = 64


def blake3_bytes(data: bytes | bytearray | memoryview) -> str:
    """Hex BLAKE3 of ``data``."""
    return blake3.blake3(data).hexdigest()


@dataclass(frozen=True)
class ChunkDigests:
    """The chunk digests of a file: chunk ``i`` holds leaves ``i * group`` to ``(i + 1) * group - 1``
    (``leaf`` bytes each, the last one shorter) and its digest is the BLAKE3 of their BLAKE3s."""

    leaf: int
    group: int
    digests: tuple[str, ...]

    @property
    def chunk_size(self) -> int:
        return self.leaf * self.group

    @classmethod
    def of_leaves(cls, leaves: list[bytes]) -> ChunkDigests:
        """Group leaf digests into at most `MAX_CHUNKS` chunks."""
        group = max(1, -(-len(leaves) // MAX_CHUNKS))
        return cls(LEAF, group, tuple(blake3.blake3(b"".join(leaves[i:i + group])).hexdigest()
                                      for i in range(0, len(leaves), group)))

    def to_text(self) -> str:
        """The record kept in the registry row (``file_chunks``)."""
        return json.dumps({"leaf": self.leaf, "group": self.group, "blake3": list(self.digests)},
                          separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str) -> ChunkDigests:
        """Parse a ``file_chunks`` record; `ArtifactIntegrityError` when it is malformed."""
        try:
            doc = json.loads(text)
            leaf, group, digests = doc["leaf"], doc["group"], doc["blake3"]
            ok = (type(leaf) is int and leaf == LEAF and type(group) is int and group >= 1
                  and isinstance(digests, list)
                  and all(isinstance(d, str) and len(d) == 64 and _is_hex(d) for d in digests))
        except (TypeError, ValueError, KeyError):
            ok = False
        if not ok:
            raise ArtifactIntegrityError(f"The registered chunk digests of the file are malformed: {text[:80]!r}.")
        return cls(leaf, group, tuple(digests))

    def check(self, index: int, chunk: bytes | bytearray | memoryview) -> bool:
        """Whether ``chunk`` is chunk number ``index`` of the file."""
        if index >= len(self.digests):
            return False
        view = memoryview(chunk)
        leaves = b"".join(blake3.blake3(view[i:i + self.leaf]).digest() for i in range(0, len(view), self.leaf))
        return blake3.blake3(leaves).hexdigest() == self.digests[index]


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


class Digests:
    """sha256, BLAKE3 and the chunk digests of the bytes passed to `update`, in one pass."""

    def __init__(self) -> None:
        self._sha256: Any = hashlib.sha256()
        self._blake3 = blake3.blake3()
        self._leaves: list[bytes] = []
        self._leaf = blake3.blake3()
        self._in_leaf = 0

    @classmethod
    def of(cls, data: bytes | bytearray | memoryview) -> Digests:
        """The digests of ``data``."""
        digests = cls()
        digests.update(data)
        return digests

    def update(self, data: bytes | bytearray | memoryview | pickle.PickleBuffer) -> None:
        view = memoryview(data).cast("B")  # bytes of any buffer (pickle 5 writes array buffers as such)
        self._sha256.update(view)
        self._blake3.update(view)
        while len(view):
            take = min(len(view), LEAF - self._in_leaf)
            self._leaf.update(view[:take])
            self._in_leaf += take
            view = view[take:]
            if self._in_leaf == LEAF:
                self._leaves.append(self._leaf.digest())
                self._leaf, self._in_leaf = blake3.blake3(), 0

    @property
    def sha256(self) -> str:
        return str(self._sha256.hexdigest())

    @property
    def blake3(self) -> str:
        return str(self._blake3.hexdigest())

    @property
    def chunks(self) -> str:
        """The chunk digests record (`ChunkDigests.to_text`) of the bytes so far."""
        leaves = self._leaves + ([self._leaf.digest()] if self._in_leaf else [])
        return ChunkDigests.of_leaves(leaves).to_text()


class _Readable(Protocol):
    def readinto(self, buffer: bytearray, /) -> int | None: ...


def file_digests(path: str | os.PathLike[str]) -> Digests:
    """The digests of a file's content, read in chunks (both hashes release the GIL)."""
    with open(path, "rb", buffering=0) as fh:
        return stream_digests(fh)[0]


def stream_digests(fh: _Readable) -> tuple[Digests, int]:
    """The digests of what is left to read in ``fh`` and its size, read in chunks into one buffer."""
    digests, size = Digests(), 0
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    while n := fh.readinto(buffer):
        digests.update(view[:n])
        size += n
    return digests, size
