"""Model ids, versions and ``"id:version"`` references.

Ids become folder names and SQL values, so they are checked before any I/O:
``^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$``, no ``..``, no trailing ``.``, no
Windows device name (``CON``, ``NUL``, ``COM1`` ... with or without extension).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone
from typing import NamedTuple

from .exceptions import InvalidModelIdError

__all__ = ["ModelRef", "generate_model_id", "parse_ref", "validate_model_id", "validate_version"]

_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"COM{i}" for i in range(10)]
    + [f"LPT{i}" for i in range(10)]
)
ID_RULE = "letters, digits, '.', '_' or '-', starting with a letter or digit, at most 128 characters"


class ModelRef(NamedTuple):
    """A parsed reference: ``version`` is None for "the latest"."""

    model_id: str
    version: int | None

    def __str__(self) -> str:
        return self.model_id if self.version is None else f"{self.model_id}:{self.version}"


def validate_model_id(model_id: object) -> str:
    """Return ``model_id`` unchanged if it is a safe id, else raise `InvalidModelIdError`.

    >>> validate_model_id("rf_baseline-2.1")
    'rf_baseline-2.1'
    """
    if not isinstance(model_id, str):
        raise InvalidModelIdError(
            f"model_id must be a string, not {type(model_id).__name__}; use {ID_RULE}."
        )
    if not _ID_RE.fullmatch(model_id):
        raise InvalidModelIdError(f"Invalid model_id {model_id!r}: use {ID_RULE}.")
    if ".." in model_id or model_id.endswith("."):
        raise InvalidModelIdError(
            f"Invalid model_id {model_id!r}: '..' and a trailing '.' are not allowed."
        )
    if model_id.split(".", 1)[0].upper() in _WINDOWS_DEVICES:
        raise InvalidModelIdError(
            f"Invalid model_id {model_id!r}: it is a reserved device name on Windows; pick another."
        )
    return model_id


def validate_version(version: object) -> int:
    """Return ``version`` as an int if it is a positive integer (or its decimal string)."""
    if isinstance(version, bool):
        raise InvalidModelIdError(f"Invalid version {version!r}: use a positive integer.")
    if isinstance(version, str) and re.fullmatch(r"[1-9][0-9]{0,8}", version):
        return int(version)
    if isinstance(version, int) and not isinstance(version, bool) and 0 < version < 10**9:
        return int(version)
    try:  # numpy integers
        import numbers

        if isinstance(version, numbers.Integral) and 0 < int(version) < 10**9:
            return int(version)
    except TypeError:  # pragma: no cover - defensive
        pass
    raise InvalidModelIdError(f"Invalid version {version!r}: use a positive integer such as 1 or 3.")


def parse_ref(ref: object, version: object = None) -> ModelRef:
    """Parse ``"rf"`` (latest) or ``"rf:3"``; an explicit ``version`` wins over none in ``ref``.

    >>> parse_ref("rf:3")
    ModelRef(model_id='rf', version=3)
    """
    if isinstance(ref, ModelRef):
        model_id, ref_version = ref
    elif isinstance(ref, str) and ":" in ref:
        model_id, _, text = ref.rpartition(":")
        ref_version = validate_version(text)
    else:
        model_id, ref_version = ref, None
    validate_model_id(model_id)
    if version is not None:
        version = validate_version(version)
        if ref_version is not None and ref_version != version:
            raise InvalidModelIdError(
                f"Reference {ref!r} names version {ref_version} but version={version} was given."
            )
        ref_version = version
    return ModelRef(model_id, ref_version)


def generate_model_id(class_name: str) -> str:
    """``<ClassName>_<yyyymmddTHHMMSS>_<6 hex>``, always a valid id."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", class_name)[:100] or "model"
    if not safe[0].isalnum():
        safe = "m" + safe
    return f"{safe}_{stamp}_{secrets.token_hex(3)}"
