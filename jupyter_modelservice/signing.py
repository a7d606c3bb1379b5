"""An optional team signing key: sidecars and archives that vouch for themselves.

With ``MODELSERVICE_SIGNING_KEY`` set (a secret shared by the team, never
stored in the models folder), every sidecar and archive manifest written for
a trusted version carries ``"signature"``: HMAC-SHA256 over the version's
identity (`SIGNED_FIELDS`: id, version, class, format, file sha256 and size).
``rebuild-index`` and ``import`` then restore a version whose signature checks
out with the same key as *verified*; everything else stays *unverified*.

Someone who can write into the models folder but does not know the key
cannot produce a valid signature for a file of their own: its sha256 is part
of what is signed. A version that is itself unverified is never signed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from typing import Any

__all__ = ["ALGORITHM", "ENV_SIGNING_KEY", "SIGNED_FIELDS", "check_signature", "sign", "signing_key"]

ENV_SIGNING_KEY = "MODELSERVICE_SIGNING_KEY"
ALGORITHM = "hmac-sha256"
#: What a signature covers, in this order.
SIGNED_FIELDS = ("model_id", "version", "model_class", "file_format", "file_sha256", "file_bytes")


def signing_key() -> bytes | None:
    """The team key from ``MODELSERVICE_SIGNING_KEY``, or None when it is unset or empty."""
    text = os.environ.get(ENV_SIGNING_KEY, "")
    return text.encode("utf-8") if text else None


def _key_id(key: bytes) -> str:
    """Names the key without revealing it: which key signed, so a mismatch can be told apart."""
    return hashlib.sha256(b"jupyter_modelservice key id\0" + key).hexdigest()[:16]


def _mac(row: Mapping[str, Any], key: bytes) -> str:
    payload = json.dumps([row.get(name) for name in SIGNED_FIELDS], separators=(",", ":"))
    return hmac.new(key, payload.encode("utf-8"), hashlib.sha256).hexdigest()


def sign(row: Mapping[str, Any], key: bytes | None = None) -> dict[str, str] | None:
    """The signature of ``row`` with ``key`` (default: the team key), or None.

    None when there is no key, when the row has no file hash, or when the row
    is itself unverified: the registry never vouches for what it did not verify.
    """
    key = signing_key() if key is None else key
    if not key or not row.get("file_sha256") or row.get("trust") == "unverified":
        return None
    return {"alg": ALGORITHM, "key_id": _key_id(key), "value": _mac(row, key)}


def check_signature(row: Mapping[str, Any], signature: Any, key: bytes | None = None) -> str:
    """``"valid"``, or why not: ``"unsigned"``, ``"no key"``, ``"another key"`` or ``"invalid"``.

    ``row`` holds the identity as the document states it; its file hash must
    already have been compared with the file's bytes by the caller.
    """
    if not isinstance(signature, Mapping) or not signature.get("value"):
        return "unsigned"
    key = signing_key() if key is None else key
    if not key:
        return "no key"
    if signature.get("alg") != ALGORITHM or signature.get("key_id") != _key_id(key):
        return "another key"
    value = signature.get("value")
    if not isinstance(value, str) or not hmac.compare_digest(value, _mac(row, key)):
        return "invalid"
    return "valid"
