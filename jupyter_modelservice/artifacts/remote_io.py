"""The file objects between an `FsspecStore` and its readers and writers.

Each call to the underlying fsspec file runs inside ``guard()``, the store's
translation of its failures into `StoreError`s; errors of the code calling
``read``/``write`` (a serializer, an unpickler) pass unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import IO, Any

from .digests import Digests

__all__ = ["GuardedReader", "HashingWriter"]


class HashingWriter:
    """A binary writer that hashes and counts what passes through to ``raw``.

    ``guard()``, when given, wraps each write to ``raw`` (the store's error
    translation); errors of the serializer calling `write` pass unchanged.
    """

    def __init__(self, raw: IO[bytes], guard: Callable[[], AbstractContextManager[Any]] = nullcontext) -> None:
        self._raw = raw
        self._guard = guard
        self._hash = Digests()
        self.nbytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        with self._guard():
            self._raw.write(data)
        self._hash.update(data)
        size = memoryview(data).nbytes
        self.nbytes += size
        return size

    def tell(self) -> int:
        return self.nbytes

    def flush(self) -> None:
        self._raw.flush()

    @property
    def digests(self) -> Digests:
        return self._hash


class GuardedReader:
    """A binary reader of ``raw`` whose reads fail as the store's errors."""

    def __init__(self, raw: IO[bytes], guard: Callable[[], AbstractContextManager[Any]]) -> None:
        self._raw = raw
        self._guard = guard

    def read(self, size: int = -1) -> bytes:
        with self._guard():
            return self._raw.read(size)

    def close(self) -> None:
        with self._guard():
            self._raw.close()
