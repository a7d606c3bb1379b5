"""Model ids, versions, ``"id:version"`` references and search text.

Ids become folder names, file names and SQL values, so they are checked
before any I/O: ``^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`` (ASCII only), no
``..``, no trailing ``.``, no Windows device name (``CON``, ``NUL``, ``COM1``
... with or without extension), not the registry's own file name
(``registry.db``). That one rule shuts out every way of leaving
the models folder or confusing a file system: separators of any kind
(``/``, ``\\``, look-alikes such as ``∕``), percent-encoded text (``%2e%2e``),
absolute paths, drive letters and URLs (``:``), control characters, spaces,
non-ASCII look-alikes and non-NFC text, and SQL or shell metacharacters.
The error says which rule a rejected id broke.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from .exceptions import InvalidInputError, InvalidModelIdError

__all__ = [
    "ID_RULE",
    "MAX_ID_LENGTH",
    "MAX_SEARCH_LENGTH",
    "ModelRef",
    "ModelVersion",
    "generate_model_id",
    "generated_id_prefix",
    "parse_ref",
    "validate_model_id",
    "validate_search",
    "validate_version",
]

MAX_ID_LENGTH = 128
MAX_VERSION = 10**9 - 1
MAX_SEARCH_LENGTH = 200
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
_VERSION_RE = re.compile(r"[1-9][0-9]{0,8}")
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"]
    + [f"COM{i}" for i in range(10)]
    + [f"LPT{i}" for i in range(10)]
)
#: Names of the registry's own files at the top of the models directory.
#: The registry's own files in models_directory: never a model id or a model file.
REGISTRY_FILES = frozenset(["registry.db", "registry.db-wal", "registry.db-shm", "registry.db-journal"])
ID_RULE = "letters, digits, '.', '_' or '-', starting with a letter or digit, at most 128 characters"


class ModelRef(NamedTuple):
    """A reference as a user writes it: ``"rf"`` (``version`` None: "the latest") or ``"rf:3"``.

    What "the latest" is depends on when and where it is resolved; the
    service resolves a reference into a `ModelVersion` before it reads or
    writes anything.
    """

    model_id: str
    version: int | None

    def __str__(self) -> str:
        return self.model_id if self.version is None else f"{self.model_id}:{self.version}"


class ModelVersion(NamedTuple):
    """One version of one model: a resolved `ModelRef`, what registry rows and files belong to."""

    model_id: str
    version: int

    def __str__(self) -> str:
        return f"{self.model_id}:{self.version}"

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> ModelVersion:
        """The version a registry row (or sidecar) describes."""
        return cls(row["model_id"], row["version"])


def _describe(char: str) -> str:
    """A readable description of one character, e.g. ``'а' (U+0430 CYRILLIC SMALL LETTER A)``."""
    label = f"U+{ord(char):04X} {unicodedata.name(char, '')}".rstrip()
    visible = char.isprintable() and not char.isspace() and not unicodedata.combining(char)
    return f"{char!r} ({label})" if visible else label


def _bad_char_reason(char: str) -> str:
    if char in "/\\":
        return f"contains the path separator {char!r}"
    if char == ":":
        return "contains ':' (drive letters, URLs and 'id:version' references are not ids)"
    if char == "%":
        return "contains '%' (percent-encoded text is not decoded; write the plain name)"
    if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
        return f"contains the control or invisible character {_describe(char)}"
    if char.isspace():
        return f"contains the white-space character {_describe(char)}"
    if ord(char) > 127:
        return (f"contains the non-ASCII character {_describe(char)} (ids are plain ASCII, so "
                "look-alike letters and unnormalized text cannot pass for another id)")
    return f"contains {char!r}, which is not allowed"


def validate_model_id(model_id: object) -> str:
    """Return ``model_id`` (as a plain ``str``) if it is a safe id, else raise `InvalidModelIdError`.

    >>> validate_model_id("rf_baseline-2.1")
    'rf_baseline-2.1'
    """
    if not isinstance(model_id, str):
        raise InvalidModelIdError(
            f"model_id must be a string, not {type(model_id).__name__}; use {ID_RULE}."
        )
    model_id = str.__str__(model_id)  # a str subclass cannot smuggle in other behaviour
    if _ID_RE.fullmatch(model_id) is None:
        if not model_id:
            reason = "is empty"
        elif len(model_id) > MAX_ID_LENGTH:
            reason = f"is {len(model_id)} characters long (at most {MAX_ID_LENGTH})"
        else:
            bad = next((c for c in model_id if c not in _ID_CHARS), None)
            reason = (_bad_char_reason(bad) if bad is not None
                      else f"starts with {model_id[0]!r} instead of a letter or digit")
        raise InvalidModelIdError(f"Invalid model_id {_shorten(model_id)}: it {reason}; use {ID_RULE}.")
    if ".." in model_id or model_id.endswith("."):
        reason = "contains '..'" if ".." in model_id else "ends with '.'"
        raise InvalidModelIdError(
            f"Invalid model_id {model_id!r}: it {reason}, which names another folder on some "
            f"file systems; use {ID_RULE}."
        )
    if model_id.split(".", 1)[0].upper() in _WINDOWS_DEVICES:
        raise InvalidModelIdError(
            f"Invalid model_id {model_id!r}: it is a reserved device name on Windows; pick another."
        )
    if model_id.lower() in REGISTRY_FILES:
        raise InvalidModelIdError(
            f"Invalid model_id {model_id!r}: it is the name of the registry's own file; pick another."
        )
    return model_id


def _shorten(text: str, limit: int = 60) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 5] + "...'" + f" ({len(text)} characters)"


def validate_version(version: object) -> int:
    """Return ``version`` as an int if it is a positive integer (or its decimal string).

    Booleans, floats, signs, spaces, leading zeros and non-ASCII digits are refused.

    >>> validate_version("3")
    3
    """
    if isinstance(version, bool):
        raise InvalidModelIdError(f"Invalid version {version!r}: use a positive integer.")
    if isinstance(version, str):
        if _VERSION_RE.fullmatch(version):
            return int(version)
    elif isinstance(version, int):
        if 0 < version <= MAX_VERSION:
            return int(version)
    else:
        import numbers

        if isinstance(version, numbers.Integral):  # numpy integers
            try:
                value = int(version)
            except (TypeError, ValueError):  # pragma: no cover - defensive
                value = 0
            if 0 < value <= MAX_VERSION:
                return value
    raise InvalidModelIdError(
        f"Invalid version {_shorten(version) if isinstance(version, str) else repr(version)[:60]}: "
        "use a positive integer such as 1 or 3."
    )


def parse_ref(ref: object, version: object = None) -> ModelRef:
    """Parse ``"rf"`` (latest) or ``"rf:3"``; an explicit ``version`` wins over none in ``ref``.

    >>> parse_ref("rf:3")
    ModelRef(model_id='rf', version=3)
    """
    raw_id: object
    ref_version: int | None
    if isinstance(ref, (ModelRef, ModelVersion)):
        raw_id, ref_version = ref
        if ref_version is not None:
            ref_version = validate_version(ref_version)
    elif isinstance(ref, str) and ":" in ref:
        raw_id, _, text = ref.rpartition(":")
        ref_version = validate_version(text)
    else:
        raw_id, ref_version = ref, None
    model_id = validate_model_id(raw_id)
    if version is not None:
        version = validate_version(version)
        if ref_version is not None and ref_version != version:
            raise InvalidModelIdError(
                f"Reference {ref!r} names version {ref_version} but version={version} was given."
            )
        ref_version = version
    return ModelRef(model_id, ref_version)


def validate_search(search: object) -> str | None:
    """Return search text that is safe to match against ids and class names.

    The text is matched literally (``%``, ``_``, quotes and backslashes have no
    special meaning). None and ``""`` mean "no filter" (None is returned).
    Control characters and unencodable text (lone surrogates) are refused with
    `InvalidInputError`, as is text longer than 200 characters.

    >>> validate_search("Forest_%")
    'Forest_%'
    """
    if search is None:
        return None
    if not isinstance(search, str):
        raise InvalidInputError(f"search must be text, not {type(search).__name__}.")
    search = str.__str__(search)
    if not search:
        return None
    if len(search) > MAX_SEARCH_LENGTH:
        raise InvalidInputError(
            f"search text is {len(search)} characters long; use at most {MAX_SEARCH_LENGTH}."
        )
    bad = next((c for c in search if unicodedata.category(c) in ("Cc", "Cs")), None)
    if bad is not None:
        raise InvalidInputError(
            f"search text contains the control character {_describe(bad)}; ids and class names "
            "never do, so remove it."
        )
    return search


#: Class-name endings left out of generated ids (``RandomForestClassifier`` → ``randomforest``).
_GENERIC_SUFFIXES = ("Classifier", "Regressor")


def generated_id_prefix(class_name: str) -> str:
    """The readable part of a generated id: the class name, lower case, without a generic ending.

    >>> generated_id_prefix("ExtraTreesClassifier"), generated_id_prefix("LogisticRegression")
    ('extratrees', 'logisticregression')
    """
    name = str(class_name)
    for suffix in _GENERIC_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return re.sub(r"[^a-z0-9]", "", name.lower())[:40] or "model"


def generate_model_id(class_name: str, taken: Iterable[str] = ()) -> str:
    """``<short class name>-<n>`` (``extratrees-3``): short to type, always a valid id.

    ``n`` is one more than the largest number of the ids of that form in
    ``taken`` (compared ignoring letter case). The service passes the ids of
    its registry and checks the result under the registry's write lock, so
    generated ids are unique per registry.

    >>> generate_model_id("ExtraTreesClassifier", ["extratrees-1", "extratrees-2", "rf"])
    'extratrees-3'
    """
    prefix = generated_id_prefix(class_name)
    form = re.compile(rf"{re.escape(prefix)}-([1-9][0-9]{{0,8}})")
    numbers = [int(m.group(1)) for t in taken if (m := form.fullmatch(str(t).lower()))]
    return f"{prefix}-{max(numbers, default=0) + 1}"
