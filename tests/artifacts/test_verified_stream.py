"""Chunk digests and the stream that hands out only chunks that match them."""

from __future__ import annotations

import io
import json
import os
import queue
import random
import threading
import types

import blake3
import pytest

from jupyter_modelservice.artifacts import verified_stream
from jupyter_modelservice.artifacts.digests import LEAF, MAX_CHUNKS, ChunkDigests, Digests
from jupyter_modelservice.artifacts.verified_stream import ChunkMismatchError, VerifiedStream
from jupyter_modelservice.exceptions import ArtifactIntegrityError

# A stream that hangs (a reader waiting for a chunk that never comes, a read that never ends) fails
# its test instead of stalling the run; the tests with small chunks take milliseconds.
pytestmark = pytest.mark.timeout(15)


def _chunks_by_hand(data: bytes) -> dict:
    """The record computed from the definition: BLAKE3 per 1 MiB leaf, leaves grouped so that at
    most 64 chunks remain, each chunk's digest the BLAKE3 of its leaves' digests."""
    leaves = [blake3.blake3(data[i:i + LEAF]).digest() for i in range(0, len(data), LEAF)]
    group = max(1, -(-len(leaves) // MAX_CHUNKS))
    return {"leaf": LEAF, "group": group,
            "blake3": [blake3.blake3(b"".join(leaves[i:i + group])).hexdigest()
                       for i in range(0, len(leaves), group)]}


def _stream(data: bytes, record: str | None = None, size: int | None = None) -> VerifiedStream:
    record = record or Digests.of(data).chunks
    return VerifiedStream(io.BytesIO(data), ChunkDigests.from_text(record),
                          len(data) if size is None else size, "The file of rf:1")


@pytest.mark.parametrize("size", [0, 1, LEAF - 1, LEAF, LEAF + 1, 3 * LEAF + 5, 130 * LEAF + 3])
def test_the_chunk_record_follows_its_definition_however_the_bytes_arrive(size):
    data = random.Random(size).randbytes(size)
    pieces = Digests()
    rng = random.Random(1)
    start = 0
    while start < size:  # uneven writes, some across leaf boundaries
        step = rng.choice([1, 7, 4096, LEAF - 3, 2 * LEAF + 1])
        pieces.update(memoryview(data)[start:start + step])
        start += step
    assert json.loads(pieces.chunks) == json.loads(Digests.of(data).chunks) == _chunks_by_hand(data)
    assert len(json.loads(pieces.chunks)["blake3"]) <= MAX_CHUNKS


@pytest.mark.parametrize("size", [1, LEAF + 1, 5 * LEAF + 17, 70 * LEAF])
def test_every_way_of_reading_returns_exactly_the_file(size):
    data = random.Random(size).randbytes(size).replace(b"\n", b"x")
    lines = b"\n".join(data[i:i + 100_000] for i in range(0, len(data), 100_000))
    if len(lines) > LEAF + 1:  # a line ending on the first byte of the second chunk
        lines = lines[:LEAF] + b"\n" + lines[LEAF + 1:]
    with _stream(data) as stream:
        assert stream.read() == data
    with _stream(lines) as stream:
        assert stream.peek(8)[:8] == lines[:8]
        got = list(iter(stream.readline, b""))  # line by line, lines crossing chunk boundaries whole
        expected = [part + b"\n" for part in lines.split(b"\n")]
        expected[-1] = expected[-1][:-1]  # the last line has no newline
        assert got == [line for line in expected if line]
        with pytest.raises(ValueError, match="reads whole lines only"):
            stream.readline(10)
    with _stream(data) as stream:
        got, rng = bytearray(), random.Random(2)
        while True:
            if rng.random() < 0.5:
                part = stream.read(rng.choice([0, 1, 13, 65536, LEAF + 5]))
            else:
                buffer = bytearray(rng.choice([1, 4096, 3 * LEAF]))
                part = bytes(buffer[:stream.readinto(buffer)])
            got += part
            if not part and len(got) == len(data):
                break
        assert bytes(got) == data
        stream.finish()


def test_a_changed_chunk_is_never_handed_out_and_the_ones_before_it_are_exact():
    data = random.Random(3).randbytes(5 * LEAF)
    record = Digests.of(data).chunks
    changed = bytearray(data)
    changed[3 * LEAF + 10] ^= 1  # inside the fourth chunk
    handed = bytearray()
    with _stream(bytes(changed), record) as stream:
        with pytest.raises(ChunkMismatchError, match=r"chunk 4 of 5 differs\); it was changed or damaged after saving"):
            while part := stream.read(65536):
                handed += part
    assert bytes(handed) == data[:3 * LEAF]


@pytest.mark.parametrize("change", ["appended", "truncated", "emptied", "last byte"])
def test_a_file_of_another_length_or_ending_is_refused(change):
    data = random.Random(4).randbytes(2 * LEAF + 100)
    record = Digests.of(data).chunks
    found = {"appended": data + b"\0", "truncated": data[:-1], "emptied": b"",
             "last byte": data[:-1] + bytes([data[-1] ^ 0xFF])}[change]
    with _stream(found, record, size=len(data)) as stream:
        with pytest.raises(ArtifactIntegrityError, match="does not match the digests registered"):
            stream.read()
            stream.finish()


def test_a_tail_the_reader_leaves_unread_is_checked_by_finish():
    data = random.Random(5).randbytes(3 * LEAF)
    record = Digests.of(data).chunks
    with _stream(data + b"tail", record, size=len(data)) as stream:
        assert stream.read(10) == data[:10]
        with pytest.raises(ChunkMismatchError, match="longer than registered"):
            stream.finish()


def test_a_record_that_does_not_fit_the_registered_size_is_refused_before_reading():
    data = random.Random(6).randbytes(2 * LEAF)
    with pytest.raises(ChunkMismatchError, match="2 chunk digests are registered for 5000000 bytes"):
        _stream(data, size=5_000_000)


@pytest.mark.parametrize("text", [
    "not json", "[]", '{"leaf": 1048576, "group": 1}', '{"leaf": 4096, "group": 1, "blake3": []}',
    '{"leaf": 1048576, "group": 0, "blake3": []}', '{"leaf": 1048576, "group": 1, "blake3": ["ab"]}',
    '{"leaf": 1048576, "group": true, "blake3": []}',
    '{"leaf": 1048576, "group": 1, "blake3": ["' + "G" * 64 + '"]}',
    *('{"leaf": 1048576, "group": 1, "blake3": ["' + digest + '"]}'  # lowercase hex only
      for digest in ("X" * 64, "0" * 63 + "X", "0" * 63 + "A")),
])
def test_a_malformed_record_is_refused(text):
    with pytest.raises(ArtifactIntegrityError, match="chunk digests of the file are malformed"):
        ChunkDigests.from_text(text)


def test_a_malformed_record_is_quoted_up_to_80_characters():
    text = '{"leaf": "' + "a" * 69 + "bc" + "z" * 40
    with pytest.raises(ArtifactIntegrityError) as caught:
        ChunkDigests.from_text(text)
    assert repr(text[:80]) in str(caught.value) and text[:81] not in str(caught.value)


def test_the_record_is_compact_json():
    record = Digests.of(os.urandom(LEAF + 1)).chunks
    assert " " not in record and json.loads(record)["leaf"] == LEAF
    assert record == json.dumps(json.loads(record), separators=(",", ":"))


def test_closing_early_stops_the_checking_thread():
    data = random.Random(7).randbytes(8 * LEAF)
    before = threading.active_count()
    for _ in range(5):
        with _stream(data) as stream:
            stream.read(10)  # the reader gives up (an unpickling error) with chunks still queued
    assert threading.active_count() == before


def test_a_file_that_fails_to_read_raises_its_error_where_the_reader_gets_to_it():
    data = random.Random(8).randbytes(3 * LEAF)

    class Failing(io.BytesIO):
        def read(self, size=-1):
            if self.tell() >= LEAF:
                raise OSError("disk gone")
            return super().read(size)

    stream = VerifiedStream(Failing(data), ChunkDigests.from_text(Digests.of(data).chunks), len(data), "f")
    with stream:
        assert stream.read(LEAF) == data[:LEAF]
        with pytest.raises(OSError, match="disk gone"):
            stream.read(1)


def test_digests_of_a_file_match_those_of_its_bytes(tmp_path):
    data = os.urandom(2 * LEAF + 1)
    (tmp_path / "f").write_bytes(data)
    from jupyter_modelservice.artifacts.digests import file_digests

    assert file_digests(tmp_path / "f").chunks == Digests.of(data).chunks


def test_readinto_fills_across_chunks_and_the_unpeekable_view_reads_the_same():
    data = random.Random(9).randbytes(3 * LEAF + 5)
    with _stream(data) as stream:
        target = bytearray(2 * LEAF + 3)  # spans three chunks: filled, as a buffered file fills it
        assert stream.readinto(target) == len(target) and bytes(target) == data[:len(target)]
        view = stream.without_peek()
        assert not hasattr(view, "peek")
        assert view.read(7) == data[len(target):len(target) + 7]
        rest = bytearray(LEAF)
        assert view.readinto(rest) == len(data) - len(target) - 7
        assert view.read() == b""


def test_a_source_returning_short_reads_is_read_whole():
    data = random.Random(10).randbytes(3 * LEAF + 17)

    class Trickle(io.BytesIO):  # a network stream: at most 64 KiB per read
        def read(self, size=-1):
            return super().read(min(size, 1 << 16) if size is not None and size >= 0 else 1 << 16)

    stream = VerifiedStream(Trickle(data), ChunkDigests.from_text(Digests.of(data).chunks), len(data), "f")
    with stream:
        assert stream.read() == data
        stream.finish()


def test_a_failed_stream_stays_failed():
    data = random.Random(11).randbytes(2 * LEAF)
    changed = bytearray(data)
    changed[LEAF + 1] ^= 1
    with _stream(bytes(changed), Digests.of(data).chunks) as stream:
        assert stream.read(LEAF) == data[:LEAF]
        for attempt in (lambda: stream.read(1), lambda: stream.read(1), stream.finish, lambda: stream.peek(1)):
            with pytest.raises(ChunkMismatchError):  # never an end of file after the error
                attempt()


def test_digests_take_the_buffers_pickle_writes():
    import hashlib
    import pickle

    import numpy as np

    array = np.arange(300_000, dtype=np.float64)
    buffer = pickle.PickleBuffer(array)
    digests = Digests()
    digests.update(buffer)  # protocol 5 hands a writer its arrays' buffers, typed float64
    raw = array.tobytes()
    assert (digests.sha256, digests.blake3, digests.chunks) == (
        hashlib.sha256(raw).hexdigest(), blake3.blake3(raw).hexdigest(), Digests.of(raw).chunks)


def test_each_read_returns_exactly_what_a_file_would_wherever_the_chunks_end():
    data = random.Random(12).randbytes(4 * LEAF + 7)
    reference = io.BytesIO(data)
    sizes = [10,        # from the first chunk
             0,         # nothing, with bytes of the chunk still unread
             LEAF,      # the rest of the first chunk and 10 bytes of the second
             LEAF - 10,  # exactly the rest of the second
             1,         # one byte, the first of the third chunk
             LEAF - 2,  # up to one byte before the end of the third
             3,         # its last byte and two of the fourth
             None]      # all the rest
    with _stream(data) as stream:
        for size in sizes:
            expected = reference.read(size)
            assert stream.read(size) == expected, size
        assert stream.read(5) == b"" and stream.read() == b""
        stream.finish()


def test_a_file_longer_than_registered_is_refused_as_longer():
    data = random.Random(13).randbytes(2 * LEAF + 100)  # the last chunk is short: the tail fits into it
    with _stream(data + b"tail", Digests.of(data).chunks, size=len(data)) as stream:
        assert stream.read(2 * LEAF) == data[:2 * LEAF]
        with pytest.raises(ChunkMismatchError) as info:
            stream.read()
    assert str(info.value) == (
        "The file of rf:1 does not match the digests registered when it was saved (it is longer than "
        "registered); it was changed or damaged after saving. Nothing past the last matching chunk was read.")


def test_an_empty_file_reads_as_empty():
    with _stream(b"") as stream:
        assert stream.read() == b""
        stream.finish()


def test_an_empty_file_that_gained_bytes_is_refused():
    with _stream(b"x", Digests.of(b"").chunks, size=0) as stream:
        with pytest.raises(ChunkMismatchError) as info:
            stream.read()
    assert str(info.value) == (
        "The file of rf:1 does not match the digests registered when it was saved (it is longer than "
        "registered); it was changed or damaged after saving. Nothing past the last matching chunk was read.")


# -- small chunks: every chunk boundary a few bytes apart -------------------------------------------
def _small_chunks(data: bytes, leaf: int = 4, group: int = 1) -> ChunkDigests:
    """The chunk digests of ``data`` by their definition, with ``leaf``-byte leaves (a registry
    record's are 1 MiB): chunk ``i`` is the BLAKE3 of the BLAKE3s of its ``group`` leaves."""
    size = leaf * group
    return ChunkDigests(leaf, group, tuple(
        blake3.blake3(b"".join(blake3.blake3(data[j:j + leaf]).digest()
                               for j in range(i, min(i + size, len(data)), leaf))).hexdigest()
        for i in range(0, len(data), size)))


class _Source(io.BytesIO):
    """A file that remembers how far it was read; ``most`` bytes per read at most (a network stream)."""

    def __init__(self, data: bytes, most: int | None = None) -> None:
        super().__init__(data)
        self.most, self.furthest = most, 0

    def read(self, size: int | None = -1) -> bytes:
        if self.most is not None:
            size = self.most if size is None or size < 0 else min(size, self.most)
        part = super().read(size)
        self.furthest = self.tell()
        return part


def _small_stream(data: bytes, source: io.BytesIO | None = None) -> VerifiedStream:
    """A stream registered as ``data`` in chunks of 4 bytes, reading ``source`` (``data`` by default)."""
    return VerifiedStream(io.BytesIO(data) if source is None else source, _small_chunks(data), len(data),
                          "The file of rf:1")


class _WatchedQueue(queue.Queue):
    """The queue a stream's checking thread hands chunks over by, telling which chunks had to wait
    for the reader to make room and which waits timed out."""

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        self.seen = threading.Condition()
        self.waited: list = []
        self.timed_out: list = []

    def put(self, item, block=True, timeout=None):
        with self.seen:
            if self.full():
                self.waited.append(item)
                self.seen.notify_all()
        try:
            super().put(item, block, timeout)
        except queue.Full:
            with self.seen:
                self.timed_out.append(item)
                self.seen.notify_all()
            raise

    def saw(self, events: list, item) -> bool:
        with self.seen:
            return self.seen.wait_for(lambda: item in events, timeout=3)


@pytest.fixture
def watched(monkeypatch) -> list[_WatchedQueue]:
    """The queues of the streams the test makes."""
    made: list[_WatchedQueue] = []

    def make(maxsize: int = 0) -> _WatchedQueue:
        made.append(_WatchedQueue(maxsize))
        return made[-1]

    monkeypatch.setattr(verified_stream, "queue", types.SimpleNamespace(Queue=make, Full=queue.Full))
    return made


def test_small_chunks_are_the_registered_ones_when_the_leaf_is_1_mib():
    data = random.Random(14).randbytes(2 * LEAF + 9)
    assert _small_chunks(data, LEAF) == ChunkDigests.from_text(Digests.of(data).chunks)


def test_a_chunk_matches_by_the_digests_of_its_leaves():
    chunks = _small_chunks(b"abcdefghij", leaf=4, group=3)  # one chunk of three leaves, the last short
    assert chunks.check(0, b"abcdefghij")
    assert chunks.check(0, memoryview(b"abcdefghij"))
    assert not chunks.check(0, b"abcdefghiJ")
    assert not chunks.check(0, b"abcdefghi")


def test_a_chunk_index_past_the_last_digest_never_matches():
    chunks = _small_chunks(b"abcdefgh", leaf=4, group=2)
    assert chunks.check(0, b"abcdefgh")
    assert chunks.check(1, b"abcdefgh") is False  # the index one past the end: no chunk to match
    assert chunks.check(2, b"abcdefgh") is False


@pytest.mark.timeout(5)
def test_reading_a_file_of_several_chunks_to_its_end_returns_and_stays_at_the_end():
    data = b"0123456789"  # three chunks, the last one short
    with _small_stream(data) as stream:
        assert stream.read() == data
        stream.finish()
        assert stream.read() == b"" and stream.read(5) == b""
        assert stream.readline() == b"" and stream.readinto(bytearray(3)) == 0


@pytest.mark.timeout(5)
def test_a_read_after_peek_continues_into_the_next_chunk():
    with _small_stream(b"0123456789") as stream:
        assert stream.peek(1) == b"0"
        assert stream.read(6) == b"012345"  # the peeked chunk, then two bytes of the next
        assert stream.read(6) == b"6789"


@pytest.mark.timeout(5)
def test_peek_shows_at_most_the_bytes_asked_for_without_consuming_them():
    with _small_stream(b"0123456789") as stream:
        assert stream.peek() == b"0"
        assert stream.peek(0) == b"0" and stream.peek(1) == b"0"
        assert stream.peek(3) == b"012"
        assert stream.peek(100) == b"0123"  # no further than the end of the chunk
        assert stream.read(4) == b"0123"
        assert stream.peek() == b"4"
        assert stream.read() == b"456789"


@pytest.mark.timeout(5)
def test_readinto_that_fills_its_target_at_a_chunk_end_stops_before_the_next_chunk():
    """The reader gets what it asked for; a damaged next chunk raises when the reader gets to it."""
    with _small_stream(b"01234567", source=io.BytesIO(b"0123456X")) as stream:
        target = bytearray(4)
        assert stream.readinto(target) == 4 and target == b"0123"
        with pytest.raises(ChunkMismatchError, match="chunk 2 of 2 differs"):
            stream.readinto(target)


@pytest.mark.timeout(5)
def test_readline_returns_one_line_at_a_time_wherever_the_chunks_end():
    with _small_stream(b"ab\ncdefghij\n\nk") as stream:  # chunks ab\nc defg hij\n \nk
        lines = [stream.readline() for _ in range(6)]
    assert lines == [b"ab\n", b"cdefghij\n", b"\n", b"k", b"", b""]


@pytest.mark.timeout(5)
def test_readline_after_peek_returns_the_first_line_only():
    with _small_stream(b"a\nbcd\nef") as stream:  # chunks a\nbc d\nef
        assert stream.peek(1) == b"a"
        assert stream.readline() == b"a\n"
        assert stream.readline() == b"bcd\n"
        assert stream.readline() == b"ef"
        assert stream.readline() == b""


@pytest.mark.parametrize("size", [0, 1, 5])
@pytest.mark.timeout(5)
def test_readline_takes_no_size(size):
    with _small_stream(b"ab\ncd") as stream:
        with pytest.raises(ValueError, match=r"^VerifiedStream\.readline reads whole lines only$"):
            stream.readline(size)
        assert stream.readline(None) == b"ab\n" and stream.readline(-1) == b"cd"


@pytest.mark.timeout(5)
def test_a_source_returning_a_chunk_in_two_reads_is_read_whole():
    data = b"0123456789"
    with _small_stream(data, source=_Source(data, most=3)) as stream:  # 3 + 1 bytes per 4-byte chunk
        assert stream.read() == data
        stream.finish()


@pytest.mark.parametrize("registered", [b"", b"0123456789"])
@pytest.mark.timeout(5)
def test_a_longer_file_is_found_reading_one_byte_past_its_registered_end(registered):
    """One byte tells that there is more; the source (a pipe, a network response) is read no further."""
    source = _Source(registered + b"tail")
    with _small_stream(registered, source=source) as stream:
        with pytest.raises(ChunkMismatchError, match="longer than registered"):
            stream.read()
        assert source.furthest == len(registered) + 1


@pytest.mark.timeout(5)
def test_closing_while_the_checks_wait_for_the_reader_returns_and_reads_no_further(watched):
    data = bytes(range(40))  # ten chunks
    source = _Source(data)
    stream = _small_stream(data, source=source)
    assert stream.read(1) == b"\0"  # the reader gives up: chunk 2 queued, chunk 3 waits for room
    assert watched[0].saw(watched[0].waited, data[8:12])
    stream.close()
    assert source.furthest == 12 and source.closed


@pytest.mark.timeout(5)
def test_a_reader_slower_than_the_checks_still_gets_every_chunk(watched):
    data = bytes(range(40))
    stream = _small_stream(data)
    assert stream.read(1) == b"\0"
    assert watched[0].saw(watched[0].timed_out, data[8:12])  # chunk 3 waited longer than one put
    assert stream.read() == data[1:]
    stream.close()


def test_a_stream_left_open_does_not_keep_the_interpreter_alive(tmp_path):
    """A kernel or script that stops while a stream is unclosed must still exit: the checking thread,
    waiting for the reader to take its next chunk, is a daemon."""
    import subprocess
    import sys

    script = tmp_path / "left_open.py"
    script.write_text(
        "import io, os\n"
        "from jupyter_modelservice.artifacts.digests import ChunkDigests, Digests\n"
        "from jupyter_modelservice.artifacts.verified_stream import VerifiedStream\n"
        f"data = os.urandom(3 * {LEAF})\n"
        "stream = VerifiedStream(io.BytesIO(data), ChunkDigests.from_text(Digests.of(data).chunks), len(data), 'f')\n"
        "assert stream.read(10) == data[:10]\n"
        "print('read', flush=True)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=20,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0 and done.stdout == "read\n", done.stderr
