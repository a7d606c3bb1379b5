"""A file read chunk by chunk, each chunk handed out only after its digest matched.

`VerifiedStream` lets an unpickler read a model file while it is being checked:
a worker thread reads the next chunk and checks it against the registered chunk
digests (`digests.ChunkDigests`; BLAKE3 releases the GIL, so the check runs on
the other core while the unpickler works on the chunk before), and the reader
side only ever sees chunks that matched. A chunk that does not match, a file
longer or shorter than registered, or a failed read raises at the point where
the reader reaches it: nothing after the last matching chunk is deserialized.
Peak memory is the deserialized object plus two chunks, not the whole file.

The worker is a plain thread started per stream and joined by `close` (no
pool survives a load, so a forked child never inherits a half-dead one).
"""

from __future__ import annotations

import queue
import threading
from typing import IO

from ..exceptions import ArtifactIntegrityError
from .digests import ChunkDigests

__all__ = ["ChunkMismatchError", "VerifiedStream"]


class ChunkMismatchError(ArtifactIntegrityError):
    """A chunk of the file differs from its registered digest (or the file's length from its size)."""

_END = b""


class VerifiedStream:
    """The checked content of ``raw`` as a binary file object (``read``, ``readinto``,
    ``readline``, ``peek``), for `pickle.load` and `joblib.load`.

    Parameters
    ----------
    raw : binary file object
        The file, positioned at its start; closed by `close`.
    chunks : ChunkDigests
        The digests registered for it.
    size : int
        Its registered size in bytes.
    label : str
        How error messages name the file.
    """

    def __init__(self, raw: IO[bytes], chunks: ChunkDigests, size: int, label: str) -> None:
        self._raw, self._chunks, self._size, self._label = raw, chunks, size, label
        if len(chunks.digests) != -(-size // chunks.chunk_size):
            raw.close()
            raise self._mismatch(f"{len(chunks.digests)} chunk digests are registered for {size} bytes")
        self._buffer: bytes = b""
        self._pos = 0
        self._done = False
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._ready: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=1)
        self._worker = threading.Thread(target=self._check_chunks, name="verified-stream", daemon=True)
        self._worker.start()

    # -- worker ------------------------------------------------------------------
    def _check_chunks(self) -> None:
        try:
            expected = len(self._chunks.digests)
            chunk_size = self._chunks.chunk_size
            for index in range(expected):
                wanted = min(chunk_size, self._size - index * chunk_size)
                last = index == expected - 1
                chunk = self._read(wanted + 1 if last else wanted)  # the last one: is there more?
                if len(chunk) > wanted:
                    raise self._mismatch("it is longer than registered")
                if not self._chunks.check(index, chunk):
                    raise self._mismatch(f"chunk {index + 1} of {expected} differs")
                if not self._put(chunk):
                    return
            if not expected and self._read(1):
                raise self._mismatch("it is longer than registered")
            self._put(_END)
        except BaseException as err:  # noqa: BLE001 - handed to the reader, raised there
            self._put(err)

    def _read(self, size: int) -> bytes:
        """``size`` bytes of the file, fewer only at its end (a stream may return less per read)."""
        parts: list[bytes] = []
        while size > 0 and (part := self._raw.read(size)):
            parts.append(part)
            size -= len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _put(self, item: bytes | BaseException) -> bool:
        while not self._stop.is_set():
            try:
                self._ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _mismatch(self, what: str) -> ChunkMismatchError:
        return ChunkMismatchError(
            f"{self._label} does not match the digests registered when it was saved ({what}); it was "
            "changed or damaged after saving. Nothing past the last matching chunk was read."
        )

    # -- reader ------------------------------------------------------------------
    def _next(self) -> bool:
        """Move to the next checked chunk; False at the end of the file."""
        if self._error is not None:  # a failed stream stays failed: it never reads as a clean end
            raise self._error
        if self._done:
            return False
        item = self._ready.get()
        if isinstance(item, BaseException):
            self._error = item
            raise item
        if len(item) == 0:
            self._done = True
        self._buffer, self._pos = item, 0
        return not self._done

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` checked bytes (all that are left when ``size`` is negative or None)."""
        if size is not None and 0 <= size <= len(self._buffer) - self._pos:
            data = self._buffer[self._pos:self._pos + size]
            self._pos += size
            return data
        parts = [self._buffer[self._pos:]]
        wanted = -1 if size is None or size < 0 else size - len(parts[0])
        self._pos = len(self._buffer)
        while wanted != 0 and self._next():
            part = self._buffer if wanted < 0 else self._buffer[:wanted]
            parts.append(part)
            self._pos = len(part)
            if wanted > 0:
                wanted -= len(part)
        return b"".join(parts)

    def readinto(self, target: bytearray | memoryview) -> int:
        """Fill ``target`` with checked bytes (less only at the end of the file); the number copied."""
        view = memoryview(target).cast("B")
        done = 0
        while done < len(view) and (n := self._copy_into(view[done:])):
            done += n
        return done

    def _copy_into(self, view: memoryview) -> int:
        """Copy checked bytes of the current chunk (the next one when it is used up) into ``view``."""
        if self._pos >= len(self._buffer) and not self._next():
            return 0
        n = min(len(view), len(self._buffer) - self._pos)
        view[:n] = memoryview(self._buffer)[self._pos:self._pos + n]
        self._pos += n
        return n

    def without_peek(self) -> _Unpeekable:
        """The stream without ``peek``, for `pickle.load`: CPython's unpickler, given a ``peek``,
        copies up to 128 KiB ahead on every read it makes outside a frame and reads them again."""
        return _Unpeekable(self)

    def readline(self, size: int | None = -1) -> bytes:
        """Checked bytes up to and including the next newline (``size`` is not supported)."""
        if size is not None and size >= 0:
            raise ValueError("VerifiedStream.readline reads whole lines only")
        parts = []
        while True:
            end = self._buffer.find(b"\n", self._pos)
            stop = len(self._buffer) if end < 0 else end + 1
            parts.append(self._buffer[self._pos:stop])
            self._pos = stop
            if end >= 0 or not self._next():
                return b"".join(parts)

    def peek(self, size: int = 1) -> bytes:
        """Up to ``size`` checked bytes ahead, without consuming them (fewer at the end of a chunk)."""
        if self._pos >= len(self._buffer):
            self._next()
        return self._buffer[self._pos:self._pos + max(size, 1)]

    def finish(self) -> None:
        """Check what the reader left unread (an appended tail must match too)."""
        while self._next():
            pass

    def close(self) -> None:
        """Stop the worker and close the file (again: nothing)."""
        self._stop.set()
        self._worker.join()
        self._raw.close()

    def __enter__(self) -> VerifiedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()



class _Unpeekable:
    """``read``, ``readinto`` and ``readline`` of a `VerifiedStream`, and no ``peek``."""

    def __init__(self, stream: VerifiedStream) -> None:
        self.read, self.readinto, self.readline = stream.read, stream.readinto, stream.readline
