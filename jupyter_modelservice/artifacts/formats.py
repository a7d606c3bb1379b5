"""Serialization formats: joblib (default), pickle and skops.

A file is read with the format the registry recorded for it, after checking
that its bytes are of that format (`check_bytes`): a pickle registered as skops
is refused before any reader runs. `detect_format` only tells a person what a
foreign file is. Deserialization always works on bytes that the caller has
already verified against the registered sha256; skops files load only with the
types of an explicit allow-list (`skops_trust`) plus those the caller names.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Iterable
from typing import IO, Any

from ..exceptions import ArtifactError, ArtifactIntegrityError, InvalidInputError, UntrustedTypesError
from .skops_trust import default_trusted_types

__all__ = ["EXTENSIONS", "FORMATS", "PICKLE_FORMATS", "check_bytes", "detect_format", "dump", "load_stream",
           "loads", "model_path", "trusted_skops_types"]

FORMATS = ("joblib", "pickle", "skops")
EXTENSIONS = {"joblib": "joblib", "pickle": "pkl", "skops": "skops"}
#: Formats whose reader runs code named in the file (``allow_pickle=False`` refuses them).
PICKLE_FORMATS = ("joblib", "pickle")

_ZIP_MAGIC = b"PK\x03\x04"
#: joblib's compressors: zlib, gzip, bz2, xz, lzma, lz4.
_COMPRESSED_MAGICS = (b"\x78", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x5d\x00", b"\x04\x22\x4d\x18")
_PICKLE_MAGIC = b"\x80"
#: joblib writes its array wrappers into the pickle stream; a plain pickle never names them.
_JOBLIB_MARK = b"joblib.numpy_pickle"


def model_path(model_id: str, version: int, file_format: str) -> str:
    """Where a version's model file lives in the store: ``<model_id>/v<N>.<ext>``."""
    return f"{model_id}/v{version}.{EXTENSIONS[file_format]}"


def check_format(save_format: str) -> str:
    """Return ``save_format`` if known, else raise `InvalidInputError`."""
    if not isinstance(save_format, str) or save_format not in FORMATS:
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
    """Which of `FORMATS` wrote ``data``; raise `ArtifactError` when none did.

    Only for telling a person what a foreign file is: a registered file is read
    with its recorded format (`loads`), never with the detected one.
    """
    head = bytes(data[:8])
    if head.startswith(_ZIP_MAGIC):
        return "skops"
    if head.startswith(_COMPRESSED_MAGICS):
        return "joblib"
    if head.startswith(_PICKLE_MAGIC):
        window = bytes(data[: 1 << 20])
        return "joblib" if _JOBLIB_MARK in window else "pickle"
    raise ArtifactError("The file is neither a joblib, a pickle nor a skops file.")


def check_bytes(data: bytes | memoryview, file_format: str, label: str = "The model file") -> None:
    """Raise `ArtifactIntegrityError` unless ``data`` is a file of ``file_format``.

    skops files are zip archives; joblib files are compressed or a pickle
    stream; pickle files are a pickle stream (protocol 2 or newer) that joblib
    did not write. Nothing is deserialized here.
    """
    check_format(file_format)
    head = bytes(data[:8])
    if file_format == "skops":
        ok = head.startswith(_ZIP_MAGIC)
    elif file_format == "joblib":
        ok = head.startswith(_COMPRESSED_MAGICS) or head.startswith(_PICKLE_MAGIC)
    else:
        ok = head.startswith(_PICKLE_MAGIC) and _JOBLIB_MARK not in bytes(data[: 1 << 20])
    if ok:
        return
    try:
        found = f"a {detect_format(data)} file"
    except ArtifactError:
        found = "of no known model format"
    raise ArtifactIntegrityError(
        f"{label} is registered as {file_format}, but its bytes are {found}; it was not read. "
        "A file is only ever read as the format it was saved in: save the model again, or "
        "delete this version if you did not put that file there."
    )


def trusted_skops_types(data: bytes, extra: Iterable[str] | str = ()) -> list[str]:
    """The explicit list of types to trust in a skops file, or `UntrustedTypesError` naming the others.

    The file's type names are compared as text, before anything is imported,
    with the allow-list of `skops_trust.default_trusted_types` (estimators,
    their fitted parts, NumPy/SciPy array types, skops' default ufuncs) and the
    names the caller lists in ``extra``. Nothing is trusted by prefix
    (``numpy.load`` inside a ``FunctionTransformer`` must be listed by name),
    and the result is always a list of names, never ``trusted=True``.

    Parameters
    ----------
    data : bytes
        A skops file.
    extra : list of str or str, default ()
        Exact dotted names the caller trusts beyond the allow-list.

    Returns
    -------
    list of str
        The names skops itself would refuse, all of them approved: pass it as
        ``skops.io.loads(data, trusted=...)``.
    """
    import skops.io

    allowed = default_trusted_types().union(_trusted_names(extra))
    try:
        found = skops.io.get_untrusted_types(data=data)
    except Exception as err:  # a damaged archive or schema: nothing was built
        raise ArtifactError(f"The skops file cannot be read: {type(err).__name__}: {err}") from err
    untrusted = [t for t in found if t not in allowed]
    if untrusted:
        raise UntrustedTypesError(
            f"The skops file contains types that are not on the allow-list: {', '.join(untrusted)}. "
            "They are neither model parts of scikit-learn, NumPy or SciPy nor named by you; their "
            "code would run while loading. If you know where the file comes from and trust these "
            f"types, load it with trusted={untrusted!r}, e.g. load_model(ref, trusted={untrusted!r}).",
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


def loads(data: bytes, file_format: str, trusted: Iterable[str] | str = (), *,
          label: str = "The model file") -> Any:
    """Deserialize verified ``data`` with the reader of ``file_format``, the format the registry recorded.

    Parameters
    ----------
    data : bytes
        The file's bytes, already checked against the registered sha256.
    file_format : {"joblib", "pickle", "skops"}
        The recorded format. Bytes of another format raise
        `ArtifactIntegrityError` before any reader runs.
    trusted : list of str or str, default ()
        Exact type names to trust in a skops file beyond the allow-list.
    label : str, default "The model file"
        How error messages name the file (``"The file of rf:2 (rf/v2.skops)"``).

    Returns
    -------
    object
        The deserialized model.
    """
    trusted = _trusted_names(trusted)
    check_bytes(data, file_format, label)
    return _deserialize(data, file_format, trusted)


def load_stream(stream: Any, file_format: str, trusted: Iterable[str] | str = (), *, label: str) -> Any:
    """Deserialize a model file from ``stream``, a `verified_stream.VerifiedStream` of it.

    Like `loads`, for a file that is checked while it is read: the recorded format
    is checked on the first chunk, joblib and pickle files are deserialized as the
    stream hands out checked chunks, and anything the reader left unread is
    checked before the model is returned. skops files (zip archives, read out
    of order) are read whole first.
    """
    trusted = _trusted_names(trusted)
    if file_format == "skops":
        return loads(stream.read(), file_format, trusted, label=label)
    check_bytes(stream.peek(1 << 20), file_format, label)
    model = _deserialize(stream.without_peek() if file_format == "pickle" else stream, file_format, trusted)
    stream.finish()
    return model


def _deserialize(source: Any, file_format: str, trusted: list[str]) -> Any:
    """Run the reader of ``file_format`` on checked bytes or a checked stream."""
    whole = isinstance(source, (bytes, bytearray, memoryview))
    try:
        if file_format == "skops":
            import skops.io

            return skops.io.loads(source, trusted=trusted_skops_types(source, trusted))
        if file_format == "pickle":
            return pickle.loads(source) if whole else pickle.load(source)
        import joblib

        return joblib.load(io.BytesIO(source) if whole else source)
    except (ArtifactError, InvalidInputError):
        raise
    except Exception as err:  # unpickling errors come in every type
        raise ArtifactError(
            f"Could not read the {file_format} model file: {type(err).__name__}: {err}. "
            "It may need a library that is not installed here."
        ) from err
