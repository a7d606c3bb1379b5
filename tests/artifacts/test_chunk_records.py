"""The chunk digests record of a file (`ChunkDigests`): computed from uneven pieces as from the whole,
kept compact, and refused when malformed before anything is read against it."""

from __future__ import annotations

import json
import os

import blake3
import pytest

from jupyter_modelservice.artifacts.digests import LEAF, ChunkDigests, Digests
from jupyter_modelservice.exceptions import ArtifactIntegrityError


def _reference(data: bytes) -> str:
    leaves = [blake3.blake3(data[i:i + LEAF]).digest() for i in range(0, len(data), LEAF)]
    return ChunkDigests.of_leaves(leaves).to_text()


@pytest.mark.timeout(5)  # a leaf boundary mishandled can loop forever: fail instead
@pytest.mark.parametrize("size", [1, LEAF - 1, LEAF, LEAF + 1, 2 * LEAF + 5])
def test_chunk_digests_of_pieces_are_those_of_whole_leaves(size):
    data = os.urandom(size)
    pieces = Digests()
    for start in range(0, size, 300_007):  # pieces that straddle the leaf boundaries
        pieces.update(data[start:start + 300_007])
    assert pieces.chunks == Digests.of(data).chunks == _reference(data)
    assert len(ChunkDigests.from_text(pieces.chunks).digests) == -(-size // LEAF)


def test_the_record_is_compact_json():
    record = Digests.of(os.urandom(LEAF + 1)).chunks
    assert " " not in record and json.loads(record)["leaf"] == LEAF
    assert record == json.dumps(json.loads(record), separators=(",", ":"))


@pytest.mark.parametrize("bad", ["X" * 64, "0" * 63 + "X", "0" * 63 + "g", "0" * 63 + "A"])
def test_a_digest_that_is_not_lowercase_hex_is_malformed(bad):
    with pytest.raises(ArtifactIntegrityError, match="malformed"):
        ChunkDigests.from_text(json.dumps({"leaf": LEAF, "group": 1, "blake3": [bad]}))


def test_a_malformed_record_is_quoted_up_to_80_characters():
    text = '{"leaf": "' + "a" * 69 + "bc" + "z" * 40
    with pytest.raises(ArtifactIntegrityError) as caught:
        ChunkDigests.from_text(text)
    assert repr(text[:80]) in str(caught.value) and text[:81] not in str(caught.value)


def test_a_chunk_number_past_the_record_never_matches():
    data = os.urandom(100)
    chunks = ChunkDigests.from_text(Digests.of(data).chunks)
    assert chunks.check(0, data)
    assert not chunks.check(1, data) and not chunks.check(1, b"")

