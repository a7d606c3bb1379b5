"""The one reader of JSON written outside the database: sidecars, archive manifests and metadata.

Such text is backup and transport, never evidence, and may have been written
by anyone who can write into the models folder or hand over an archive. So
every document is read the same way, before any of its values is used:

1. size: at most `MAX_BYTES`, checked before the text is parsed;
2. depth: at most `MAX_DEPTH` nested arrays/objects, counted on the raw text
   (Python's parser would otherwise recurse until a ``RecursionError``);
3. one encoding for non-finite numbers: ``NaN`` and ``±Infinity`` (which
   earlier versions wrote) read as ``null``, the way they are written now;
4. a JSON object whose protocol number (``sidecar_protocol``,
   ``archive_protocol``) this version can read;
5. the type of every known field (`ROW_FIELDS` for registry rows): a wrong
   type is refused with the field named. Unknown fields are left to the caller.

Every failure is one `DocumentError` whose message says which document and
what is wrong, so a caller processing many files reports one line per file.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, TypeGuard

import sqlalchemy as sa

from .exceptions import ArtifactError
from .registry.engine import finite
from .registry.schema import model_metadata
from .statuses import STATUSES

__all__ = ["MAX_BYTES", "MAX_DEPTH", "ROW_FIELDS", "DocumentError", "check_fields", "check_row",
           "json_text", "read_document"]

#: Largest document read (a row with 100k feature names is about 2 MB).
MAX_BYTES = 16 << 20
#: Deepest nesting of arrays and objects accepted (registry rows use less than 10).
MAX_DEPTH = 64

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_OPEN = frozenset(b"[{")

#: The shape of registry columns holding JSON.
_JSON_SHAPES: dict[str, type] = {
    "model_params": dict, "metrics": dict, "cv_scores": dict, "environment": dict, "source": dict,
    "training_config": dict, "tags": dict, "feature_names": list,
}
_STATES = (None, "pending", "ready", "removed")


class DocumentError(ArtifactError, ValueError):
    """A JSON document (sidecar, manifest, metadata) is too large, too deep, malformed or mistyped."""


def json_text(value: Any, **dumps_kwargs: Any) -> str:
    """``value`` as standard JSON: NaN and ±Infinity (at any depth) become ``null``.

    The one encoding of non-finite numbers for sidecars, archives and the
    registry's JSON columns, so that a value reads back the same everywhere.
    """
    return json.dumps(finite(value), allow_nan=False, **dumps_kwargs)


def _depth(data: bytes, limit: int) -> int:
    """Deepest nesting in ``data`` (strings skipped), counting no further than ``limit + 1``."""
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", data))
    depth = deepest = 0
    for byte in brackets:
        depth += 1 if byte in _OPEN else -1
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                break
    return deepest


def read_document(data: bytes, what: str, *, protocol_key: str | None = None, max_protocol: int = 1,
                  fields: Mapping[str, tuple[type, ...]] | None = None,
                  max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """Parse and check one JSON document; `DocumentError` naming ``what`` when it is not acceptable.

    Parameters
    ----------
    data : bytes
        The raw document.
    what : str
        How to name it in messages, e.g. ``"the sidecar rf/v2.json"``.
    protocol_key : str, optional
        The key holding the document's protocol number, which must be an
        integer from 1 to ``max_protocol``.
    fields : mapping, optional
        Allowed types per known field (see `check_fields`).
    max_bytes : int
        Size limit.
    """
    if len(data) > max_bytes:
        raise DocumentError(f"{what} is {len(data)} bytes; documents of at most {max_bytes} bytes are read.")
    if _depth(data, MAX_DEPTH) > MAX_DEPTH:
        raise DocumentError(f"{what} is nested more than {MAX_DEPTH} levels deep; it was not read.")
    try:
        document = finite(json.loads(data.decode("utf-8"), parse_constant=lambda _name: None))  # 1e400 too
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise DocumentError(f"{what} is not valid JSON: {err}") from err
    if not isinstance(document, dict):
        raise DocumentError(f"{what} is not a JSON object.")
    if protocol_key is not None:
        protocol = document.get(protocol_key)
        if not _is_int(protocol) or not 1 <= protocol <= max_protocol:
            raise DocumentError(f"{what} has {protocol_key} {protocol!r}; this version of "
                                f"jupyter_modelservice reads 1 to {max_protocol}. Upgrade it.")
    if fields:
        check_fields(document, fields, what)
    return document


def check_fields(document: Mapping[str, Any], fields: Mapping[str, tuple[type, ...]], what: str) -> None:
    """`DocumentError` when a known field has a value of another type (None is always allowed).

    ``bool`` never passes for ``int`` or ``float``; ``float`` values must be
    finite (`read_document` reads non-finite ones as None).
    """
    for name, types in fields.items():
        value = document.get(name)
        if value is None:
            continue
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if not ok or (isinstance(value, float) and not math.isfinite(value)):
            expected = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)
            raise DocumentError(f"{what}: the field {name!r} must be {expected}, not "
                                f"{_TYPE_NAMES.get(type(value), type(value).__name__)} {_short(value)}.")


def check_row(row: Mapping[str, Any], what: str) -> None:
    """`check_fields` with `ROW_FIELDS`, plus the values a few columns allow."""
    check_fields(row, ROW_FIELDS, what)
    for name, allowed in (("status", STATUSES), ("artifact_state", _STATES)):
        if name in row and row[name] not in allowed:
            raise DocumentError(f"{what}: the field {name!r} is {_short(row[name])}; expected one of "
                                f"{', '.join(str(a) for a in allowed if a is not None)}.")
    for name, length in _LENGTHS.items():
        value = row.get(name)
        if isinstance(value, str) and len(value) > length:
            raise DocumentError(f"{what}: the field {name!r} is {len(value)} characters long "
                                f"(at most {length}).")
    names = row.get("feature_names")
    if isinstance(names, list) and not all(isinstance(n, str) for n in names):
        raise DocumentError(f"{what}: the field 'feature_names' must list strings.")


_TYPE_NAMES = {dict: "an object", list: "an array", str: "a string", int: "an integer", float: "a number",
               bool: "a boolean"}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _column_types(column: sa.Column[Any]) -> tuple[type, ...]:
    if column.name in _JSON_SHAPES:
        return (_JSON_SHAPES[column.name],)
    if isinstance(column.type, sa.JSON):
        return (dict, list)
    if isinstance(column.type, sa.Integer):
        return (int,)
    if isinstance(column.type, sa.Float):
        return (int, float)
    return (str,)


#: Allowed types of every registry column in a document that describes a row.
ROW_FIELDS: dict[str, tuple[type, ...]] = {c.name: _column_types(c) for c in model_metadata.columns}
_LENGTHS = {c.name: c.type.length for c in model_metadata.columns
            if isinstance(c.type, sa.String) and c.type.length}
