"""JSON sidecars: each saved version's registry row beside its model file.

``<models_directory>/<model_id>/v<N>.json`` is readable without the database
and is enough to rebuild the registry if the database is lost.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["SIDECAR_PROTOCOL", "sidecar_path", "sidecar_text"]

#: Version of the sidecar layout; readers must accept every older one.
SIDECAR_PROTOCOL = 1


def sidecar_path(model_id: str, version: int) -> str:
    """Store-relative path of the sidecar of ``model_id:version``."""
    return f"{model_id}/v{version}.json"


def sidecar_text(row: Mapping[str, Any]) -> str:
    """The sidecar content for a registry row."""
    return json.dumps({"sidecar_protocol": SIDECAR_PROTOCOL, **row}, indent=2, sort_keys=True,
                      default=str)
