"""URLs as people see them: one redaction for every database or store URL shown or stored.

A URL carries secrets in two places: the password of its userinfo
(``user:secret@host``) and query parameters (``?password=…``,
``sslpassword=…``, tokens, keys, signatures). `redact_url` replaces both with
``***`` and shows the rest (driver, user, host, port, database, harmless
options), whatever the driver, and also when the password holds an
unencoded ``@``. `scrub_secrets` removes the secrets of given URLs from any
text, such as a driver's error message. Messages, reports, displays and
stored events that name a URL go through these two functions.

>>> redact_url("postgresql://me:s3cret@db:5432/models?sslmode=require&sslpassword=k3y")
'postgresql://me:***@db:5432/models?sslmode=require&sslpassword=***'
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import quote, unquote_plus

__all__ = ["MASK", "redact_url", "scrub_secrets"]

MASK = "***"

#: Query parameter names whose values are secrets (matched on the decoded name).
_SECRET_NAME = re.compile(
    r"pass|pwd|secret|token|key|auth|credential|signature|session|cookie|^sig$", re.IGNORECASE
)
#: libpq parameters that match the pattern but hold file paths, not secrets.
_PATH_PARAMS = frozenset({"passfile", "sslkey", "sslcert", "sslrootcert", "sslcrl", "sslcrldir",
                          "sslkeylogfile"})
#: The start of a query parameter: ``name=``.
_QUERY_NAME = re.compile(r"[^&=?]+=")
#: Between query parameters: an ``&`` that starts ``name=``; any other ``&`` belongs to a value.
_QUERY_SEP = re.compile(r"&(?=[^&=]*=)")
#: ``name=value`` in a text that is not a URL (a libpq connection string).
_KEY_VALUE = re.compile(r"(?P<name>[\w.-]+)\s*=\s*(?P<value>'(?:[^'\\]|\\.)*'|\S+)")


def redact_url(url: Any) -> Any:
    """``url`` as text with its password and secret query values replaced by ``***``.

    Parameters
    ----------
    url : str, os.PathLike, sqlalchemy.URL or None
        A database URL (any driver, parsable or not), an fsspec URL or a path.

    Returns
    -------
    str or None
        None for None; otherwise the text of ``url`` without its secrets.

    Examples
    --------
    >>> redact_url("postgresql://me:p@ss@db/models")
    'postgresql://me:***@db/models'
    >>> redact_url("postgresql://db/models?user=me&password=s3cret")
    'postgresql://db/models?user=me&password=***'
    """
    if url is None:
        return None
    text = _text(url)
    scheme, sep, rest = text.partition("://")
    if not sep:
        return _KEY_VALUE.sub(_mask_pair, text)
    userinfo, at, after = _split_userinfo(rest)
    if ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":" + MASK
    head, question, query = after.partition("?")
    if question:
        query = "&".join(_mask_pair_text(part) for part in _QUERY_SEP.split(query))
    return f"{scheme}://{userinfo}{at}{head}{question}{query}"


def scrub_secrets(text: str, *urls: Any) -> str:
    """``text`` with every URL of ``urls`` redacted and their secrets replaced by ``***``.

    Use it on messages that come from elsewhere (database drivers, storage
    libraries), which may quote a URL or a password.

    >>> scrub_secrets("login for me with s3cret refused", "postgresql://me:s3cret@db/x")
    'login for me with *** refused'
    """
    for url in urls:
        if url is None:
            continue
        raw = _text(url)
        if raw and raw in text:
            text = text.replace(raw, redact_url(raw))
        for secret in sorted(_secrets(url), key=len, reverse=True):
            if len(secret) >= 4:
                text = text.replace(secret, MASK)
            else:  # a very short secret: only where it stands alone
                text = re.sub(rf"(?<![\w]){re.escape(secret)}(?![\w])", MASK, text)
    return text


# -- helpers -------------------------------------------------------------------
def _text(url: Any) -> str:
    render = getattr(url, "render_as_string", None)
    if render is not None:  # a sqlalchemy.URL: its own rendering, special characters encoded
        return render(hide_password=False)
    return os.fspath(url) if isinstance(url, os.PathLike) else str(url)


def _split_userinfo(rest: str) -> tuple[str, str, str]:
    """``(userinfo, "@", the rest)``, or ``("", "", rest)`` when there is no userinfo.

    There is a userinfo when the text before the first ``@`` can be one (a
    user name without ``/``), as SQLAlchemy reads it; it then runs on to the
    last ``@`` before the host, so that a password with unencoded ``@``
    (``me:p@s/s@db``) is hidden whole. An ``@`` in a query value
    (``?user=me@example.org``) does not count.
    """
    end = rest.find("@")
    if end < 0 or "/" in rest[:end].split(":", 1)[0]:
        return "", "", rest
    while (nxt := rest.find("@", end + 1)) >= 0:
        question = rest.find("?", end + 1, nxt)
        if question >= 0 and _QUERY_NAME.match(rest, question + 1, nxt):
            break  # that "@" is in the query
        end = nxt
    return rest[:end], "@", rest[end + 1:]


def _is_secret(name: str) -> bool:
    name = unquote_plus(name).strip().lower()
    return name not in _PATH_PARAMS and bool(_SECRET_NAME.search(name))


def _mask_pair_text(part: str) -> str:
    name, eq, _value = part.partition("=")
    return f"{name}={MASK}" if eq and _is_secret(name) else part


def _mask_pair(match: re.Match[str]) -> str:
    return f"{match['name']}={MASK}" if _is_secret(match["name"]) else match[0]


def _secrets(url: Any) -> set[str]:
    """The secret values in ``url``, raw and decoded, as they may appear in messages."""
    found: set[str] = set()
    password = getattr(url, "password", None)  # a sqlalchemy.URL's parsed password
    if password:
        found.add(str(password))
    text = _text(url)
    _scheme, sep, rest = text.partition("://")
    if sep:
        userinfo, _, after = _split_userinfo(rest)
        if ":" in userinfo:
            password = userinfo.split(":", 1)[1]
            # A parser that stops at the first "@" takes the rest for the host and may show it.
            found.update([password, *password.split("@")[1:]])
        pairs = _QUERY_SEP.split(after.partition("?")[2])
    else:
        pairs = [m[0] for m in _KEY_VALUE.finditer(text)]
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if eq and _is_secret(name):
            found.add(value.strip().strip("'"))
    for value in list(found):
        found.update({unquote_plus(value), quote(value, safe="")})
    return {value for value in found if value}
