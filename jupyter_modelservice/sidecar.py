"""JSON sidecars: each saved version's registry row beside its model file.

``<models_directory>/<model_id>/v<N>.json`` is readable without the database
and is enough to rebuild the registry if the database is lost. It is a backup
of metadata, never a source of trust: anyone who can write into the models
folder can write one. What is restored from it is *unverified* until a person
confirms it, unless it carries a valid team signature (`jupyter_modelservice.signing`).

Written as standard JSON (NaN and ±Infinity as ``null``, the registry's one
encoding), without the registry's own ``trust`` judgement; read back only
through `read_sidecar_document` (size, depth and field types checked).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .json_documents import ROW_FIELDS, check_row, json_text, read_document
from .signing import sign

__all__ = ["SIDECAR_FIELDS", "SIDECAR_PROTOCOL", "read_sidecar_document", "sidecar_path", "sidecar_text"]

#: Version of the sidecar layout; readers must accept every older one.
SIDECAR_PROTOCOL = 1
#: Columns a sidecar never carries: the registry's judgement is not the file's to claim.
_NOT_WRITTEN = ("trust",)
#: Allowed types of the fields of a sidecar.
SIDECAR_FIELDS = {**ROW_FIELDS, "signature": (dict,)}


def sidecar_path(model_id: str, version: int) -> str:
    """Store-relative path of the sidecar of ``model_id:version``."""
    return f"{model_id}/v{version}.json"


def sidecar_text(row: Mapping[str, Any]) -> str:
    """The sidecar content for a registry row (signed when the team key is set and the row trusted)."""
    data: dict[str, Any] = {k: v for k, v in row.items() if k not in _NOT_WRITTEN}
    signature = sign(row)
    if signature is not None:
        data["signature"] = signature
    return json_text({"sidecar_protocol": SIDECAR_PROTOCOL, **data}, indent=2, sort_keys=True, default=str)


def read_sidecar_document(data: bytes, what: str) -> dict[str, Any]:
    """A sidecar's content, checked: size, depth, protocol and the type of every known field.

    Raises `jupyter_modelservice.json_documents.DocumentError` naming ``what``.
    """
    document = read_document(data, what, protocol_key="sidecar_protocol", max_protocol=SIDECAR_PROTOCOL,
                             fields=SIDECAR_FIELDS)
    check_row(document, what)
    return document
