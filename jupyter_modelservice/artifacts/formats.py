"""Serialization formats: joblib (default), pickle and skops.

Files are recognised by their bytes, never by their name. Deserialization
always works on bytes that the caller has already verified against the
registered sha256.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Iterable
from typing import IO, Any

from ..exceptions import ArtifactError, InvalidInputError, UntrustedTypesError

__all__ = ["EXTENSIONS", "FORMATS", "detect_format", "dump", "loads", "model_path", "trusted_skops_types"]

FORMATS = ("joblib", "pickle", "skops")
EXTENSIONS = {"joblib": "joblib", "pickle": "pkl", "skops": "skops"}

_ZIP_MAGIC = b"PK\x03\x04"
#: joblib's compressors: zlib, gzip, bz2, xz, lzma, lz4.
_COMPRESSED_MAGICS = (b"\x78", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x5d\x00", b"\x04\x22\x4d\x18")
#: Module prefixes whose classes (not functions) a skops file may contain without being listed.
TRUSTED_SKOPS_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.", "scipy.stats.")


def model_path(model_id: str, version: int, file_format: str) -> str:
    """Where a version's model file lives in the store: ``<model_id>/v<N>.<ext>``."""
    return f"{model_id}/v{version}.{EXTENSIONS[file_format]}"


def check_format(save_format: str) -> str:
    """Return ``save_format`` if known, else raise `InvalidInputError`."""
    if save_format not in FORMATS:
        raise InvalidInputError(
            f"Unknown save_format {save_format!r}; use one of {', '.join(FORMATS)}."
        )
    return save_format


def dump(obj: Any, fileobj: IO[bytes], save_format: str) -> None:
    """Serialize ``obj`` into the binary file object ``fileobj``."""
    if save_format == "joblib":
        import joblib

        joblib.dump(obj, fileobj)
    elif save_format == "pickle":
        pickle.dump(obj, fileobj, protocol=pickle.HIGHEST_PROTOCOL)
    elif save_format == "skops":
        import skops.io

        fileobj.write(skops.io.dumps(obj))
    else:
        check_format(save_format)


def detect_format(data: bytes | memoryview) -> str:
    """Which of `FORMATS` wrote ``data``; raise `ArtifactError` when none did."""
    head = bytes(data[:8])
    if head.startswith(_ZIP_MAGIC):
        return "skops"
    if head.startswith(_COMPRESSED_MAGICS):
        return "joblib"
    if head[:1] == b"\x80":
        window = bytes(data[: 1 << 20])
        return "joblib" if b"joblib.numpy_pickle" in window else "pickle"
    raise ArtifactError("The file is neither a joblib, a pickle nor a skops file.")


def trusted_skops_types(data: bytes, extra: Iterable[str] | str = ()) -> list[str]:
    """The explicit list of types to trust in a skops file, or `UntrustedTypesError` naming the others.

    Beyond skops' own defaults, a type is trusted when the caller lists it in
    ``extra`` or when it is a *class* of scikit-learn, NumPy or SciPy (sparse,
    stats). Functions are never trusted by prefix (``numpy.load`` inside a
    ``FunctionTransformer`` must be listed by name), and the result is always
    a list of names, never ``trusted=True``.
    """
    import skops.io

    allowed = set(_trusted_names(extra))
    found = skops.io.get_untrusted_types(data=data)
    untrusted = [t for t in found if t not in allowed and not _is_library_class(t)]
    if untrusted:
        raise UntrustedTypesError(
            f"The skops file contains types that are not trusted: {', '.join(untrusted)}. "
            "If you trust them, pass trusted=[...] with these names to load_model.",
            untrusted,
        )
    return list(found)


def _trusted_names(extra: Iterable[str] | str | None) -> list[str]:
    if extra is None:
        return []
    if isinstance(extra, str):
        return [extra]
    if isinstance(extra, bool) or not isinstance(extra, Iterable):
        raise InvalidInputError(
            f"trusted must be a list of type names such as ['mypackage.MyEstimator'], not "
            f"{extra!r}; trusting everything (trusted=True) is not offered."
        )
    names = list(extra)
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise InvalidInputError(f"trusted must list type names as strings; got {bad[0]!r}.")
    return names


def _is_library_class(name: str) -> bool:
    """Whether ``name`` is a class (not a function) in one of `TRUSTED_SKOPS_PREFIXES`."""
    if not name.startswith(TRUSTED_SKOPS_PREFIXES):
        return False
    module_name, _, attr = name.rpartition(".")
    if not attr or not all(part.isidentifier() for part in name.split(".")):
        return False
    import importlib

    try:
        module = importlib.import_module(module_name)
    except Exception:  # noqa: BLE001 - an unknown module is simply not trusted
        return False
    return isinstance(getattr(module, attr, None), type)


def loads(data: bytes, file_format: str | None = None, trusted: Iterable[str] | str = ()) -> Any:
    """Deserialize verified ``data``; ``file_format`` is detected when None."""
    trusted = _trusted_names(trusted)
    file_format = file_format or detect_format(data)
    try:
        if file_format == "skops":
            import skops.io

            return skops.io.loads(data, trusted=trusted_skops_types(data, trusted))
        if file_format == "pickle":
            return pickle.loads(data)
        import joblib

        return joblib.load(io.BytesIO(data))
    except (UntrustedTypesError, InvalidInputError):
        raise
    except Exception as err:  # unpickling errors come in every type
        raise ArtifactError(
            f"Could not read the {file_format} model file: {type(err).__name__}: {err}. "
            "It may need a library that is not installed here."
        ) from err
