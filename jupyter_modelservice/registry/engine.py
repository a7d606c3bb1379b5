"""SQLAlchemy engines for the registry, and the small helpers every write uses.

SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE`` for writes (issued
here, not by the driver); PostgreSQL gets pre-ping (notebook sessions outlive
idle connections). Both get a JSON serializer that stores NaN/±Infinity as
null (PostgreSQL's ``json`` type refuses them): the one encoding of
non-finite numbers, as in sidecars and archives.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import math
import os
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ..exceptions import RegistryError
from ..redaction import redact_url, scrub_secrets

__all__ = ["actor", "advisory_key", "escape_like", "finite", "make_engine", "utcnow"]


def make_engine(url: str | sa.URL, **engine_kwargs: Any) -> sa.Engine:
    """An engine for ``url`` set up for the registry; `RegistryError` for a bad URL.

    Messages show the URL through `redact_url`: no password, no secret query value.
    """
    try:
        parsed = sa.make_url(url)
        engine_kwargs.setdefault("json_serializer", _json_dumps_finite)
        if parsed.get_backend_name() != "sqlite":
            engine_kwargs.setdefault("pool_pre_ping", True)
        engine = sa.create_engine(parsed, **engine_kwargs)
    except (sa.exc.ArgumentError, ImportError, ValueError) as err:  # ValueError: a bad port
        raise RegistryError(
            f"Cannot use database URL {redact_url(url)!r}: {scrub_secrets(str(err), url)}. Check the "
            "dialect+driver (e.g. postgresql+psycopg, installed?) and the port, and percent-encode "
            "special characters of the password (@ as %40)."
        ) from err
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        sa.event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def utcnow() -> str:
    """The current UTC time as ISO-8601 with microseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def actor() -> str:
    """Who is making a change: the login name, else the uid."""
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def advisory_key(text: str) -> int:
    """A signed 64-bit PostgreSQL advisory-lock key for ``text``."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def escape_like(text: str) -> str:
    """``text`` with LIKE wildcards escaped (escape character ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def finite(value: Any) -> Any:
    """``value`` with NaN and ±Infinity (nested in dicts and lists too) replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def _json_dumps_finite(value: Any) -> str:
    """JSON text for servers that follow the JSON standard: NaN and ±Infinity become null."""
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:
        return json.dumps(finite(value), allow_nan=False)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # BEGIN is issued by _sqlite_on_begin
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {int(_SQLITE_BUSY_SECONDS * 1000)}")
    _enable_wal(cursor)
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


#: How long a connection waits for another one's lock (SQLite's busy timeout), in seconds.
_SQLITE_BUSY_SECONDS = 30.0


def _enable_wal(cursor: Any) -> None:
    """Switch the database to WAL, waiting for a process that holds it meanwhile.

    Switching needs the database to itself, and SQLite answers "database is
    locked" at once, without its busy timeout, while another connection
    writes to a database not yet in WAL: the case of processes opening a new
    registry together. A database already in WAL needs no switch.
    """
    import sqlite3
    import time

    deadline = time.monotonic() + _SQLITE_BUSY_SECONDS
    delay = 0.002
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def _sqlite_on_begin(conn: sa.Connection) -> None:
    write = conn.get_execution_options().get("modelservice_write", True)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
