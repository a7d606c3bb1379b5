"""The two digests of a model file: sha256 (published) and BLAKE3 (checked on load)."""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import warnings

import blake3
import pytest

from jupyter_modelservice.artifacts.digests import Digests, blake3_bytes, file_digests, stream_digests


@pytest.mark.parametrize("size", [0, 1, 1024, (1 << 20) + 7, 9 << 20])
def test_both_digests_match_the_reference_implementations(tmp_path, size):
    data = os.urandom(size)
    path = tmp_path / "file"
    path.write_bytes(data)
    expected = (hashlib.sha256(data).hexdigest(), blake3.blake3(data).hexdigest())
    assert blake3_bytes(data) == blake3_bytes(memoryview(data)) == expected[1]
    found = file_digests(path)
    assert (found.sha256, found.blake3) == expected
    pieces = Digests()
    for start in range(0, size, 4099):  # uneven pieces, as a serializer writes them
        pieces.update(memoryview(data)[start:start + 4099])
    assert (pieces.sha256, pieces.blake3) == expected


def _hash_in_child(path: str) -> None:
    data = os.urandom(9 << 20)
    assert blake3_bytes(data) == blake3.blake3(data).hexdigest()
    assert file_digests(path).blake3 == blake3.blake3(open(path, "rb").read()).hexdigest()


def test_a_process_forked_after_hashing_can_hash(tmp_path):
    """Forked children (multiprocessing's default on Linux, the crash tests) must not wait forever on
    a thread pool the parent started: hashing stays on the calling thread."""
    path = tmp_path / "big"
    path.write_bytes(os.urandom(9 << 20))
    blake3_bytes(path.read_bytes())  # the parent hashes a large input first
    file_digests(path)
    child = multiprocessing.get_context("fork").Process(target=_hash_in_child, args=(str(path),))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
        child.join()
        pytest.fail("a forked process hung while hashing")
    assert child.exitcode == 0


def test_stream_digests_count_every_byte_left_in_a_source_read_in_pieces():
    data = bytes(range(10))

    class Trickle(io.BytesIO):  # at most 3 bytes per read
        def readinto(self, buffer):
            return super().readinto(memoryview(buffer)[:3])

    digests, size = stream_digests(Trickle(data))
    assert size == len(data) and digests.sha256 == hashlib.sha256(data).hexdigest()
    source = io.BytesIO(data)
    source.seek(4)
    digests, size = stream_digests(source)
    assert size == 6 and digests.blake3 == blake3.blake3(data[4:]).hexdigest()
    assert stream_digests(io.BytesIO(b""))[1] == 0


def test_file_digests_read_without_a_warning(tmp_path):
    (tmp_path / "f").write_bytes(b"abc")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. a binary file opened with line buffering warns
        assert file_digests(tmp_path / "f").sha256 == hashlib.sha256(b"abc").hexdigest()
