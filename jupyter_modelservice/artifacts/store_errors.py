"""The one translation of storage failures at the boundary of a remote model store.

Storage libraries raise their own errors (botocore's ``EndpointConnectionError``,
aiohttp's timeouts, ``PermissionError`` for a refused signature, …), which are
neither `ModelServiceError` nor always ``OSError``. :func:`store_errors` wraps
every call a store makes to its file system and raises a `StoreError` instead:
one line naming the store URL, what was being done, the library's message
with secrets removed, and what to check. The original error is chained.

>>> try:
...     with store_errors("s3://team/models", "reading rf/v1.joblib"):
...         raise ConnectionRefusedError("connect call failed")
... except StoreError as err:
...     print(err)  # doctest: +NORMALIZE_WHITESPACE
Model store s3://team/models could not be reached while reading rf/v1.joblib
(ConnectionRefusedError: connect call failed); check the network and endpoint_url in
storage_options (or the environment), then try again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ..exceptions import ModelServiceError, StoreError
from ..redaction import MASK, redact_url, scrub_secrets

__all__ = ["describe", "secret_values", "store_errors"]

#: Option names whose values must never appear in a message.
_SECRET_OPTION = re.compile(r"pass|secret|token|key|credential|auth|session", re.IGNORECASE)
#: Class names (anywhere in an error's hierarchy) of network failures: refused, reset, timed out.
_NETWORK = frozenset({"ConnectionError", "TimeoutError", "HTTPClientError", "ClientConnectionError",
                      "ServerTimeoutError", "FSTimeoutError"})
#: Words of S3-compatible services refusing credentials or permissions.
_DENIED = ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden",
           "ExpiredToken", "NoCredentials", "Unable to locate credentials")


@contextmanager
def store_errors(url: str, doing: str, *, secrets: Iterable[str] = (), missing_ok: bool = False
                 ) -> Iterator[None]:
    """Raise any storage failure inside the block as a `StoreError`.

    Parameters
    ----------
    url : str
        The store's URL, named in the message.
    doing : str
        What the block does (``"reading rf/v1.joblib"``).
    secrets : iterable of str
        Values to mask wherever the library's message quotes them (see `secret_values`).
    missing_ok : bool, default False
        Let ``FileNotFoundError`` through, for callers that turn a missing file
        into their own answer; otherwise it means a missing bucket.

    Errors of this package (`ModelServiceError`) pass unchanged, and so does
    ``KeyboardInterrupt``.
    """
    try:
        yield
    except Exception as err:
        if isinstance(err, ModelServiceError) or (missing_ok and isinstance(err, FileNotFoundError)):
            raise
        raise StoreError(describe(url, doing, err, secrets)) from err


def describe(url: str, doing: str, err: BaseException, secrets: Iterable[str] = ()) -> str:
    """One line: the store, what failed while ``doing``, the cause without secrets, what to check."""
    detail = scrub_secrets(" ".join(f"{type(err).__name__}: {err}".split()), url)
    for secret in sorted(secrets, key=len, reverse=True):
        detail = detail.replace(secret, MASK)
    names = {cls.__name__ for cls in type(err).__mro__}
    if isinstance(err, PermissionError) or any(word in detail for word in _DENIED):
        what = "refused access"
        advice = ("check the credentials (key and secret in storage_options, or the environment) "
                  "and the bucket's permissions")
    elif isinstance(err, FileNotFoundError) or "NoSuchBucket" in detail:
        what = "has no such bucket"
        advice = "create the bucket or correct models_directory (and endpoint_url in storage_options)"
    elif names & _NETWORK:
        what = "could not be reached"
        advice = ("check the network and endpoint_url in storage_options (or the environment), "
                  "then try again")
    else:
        what = "failed"
        advice = "try again; if it persists, check endpoint_url and the credentials in storage_options"
    return f"Model store {redact_url(url)} {what} while {doing} ({detail}); {advice}."


def secret_values(options: Mapping[str, Any]) -> list[str]:
    """String values of ``options`` (nested mappings included) whose names say they are secret."""
    found: list[str] = []
    for name, value in options.items():
        if isinstance(value, Mapping):
            found += secret_values(value)
        elif isinstance(value, str) and len(value) >= 4 and _SECRET_OPTION.search(str(name)):
            found.append(value)
    return found
