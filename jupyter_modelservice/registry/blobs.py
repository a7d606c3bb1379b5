"""``model_blobs``: the bytes of versions kept in the registry database itself.

The statements are pure SQL on a connection of the current transaction;
`RegistryBlobs`, a part of `Registry`, opens it and takes the locks. One row
per version, keyed by ``(model_id, version)`` and tied to the version's row
(deleting the row deletes the bytes); ``path`` is the store-relative path the
bytes stand for (``rf/v1.joblib``), so that a reader asking for the file of an
earlier save in another format finds nothing instead of the newer bytes.

On PostgreSQL with psycopg the bytes are fetched in binary format: the text
format would send twice as many bytes (hex) and decode them in the client,
a second copy of the model in memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..exceptions import RegistryError
from .engine import utcnow
from .schema import model_blobs

__all__ = ["RegistryBlobs", "delete", "exists", "index", "put", "read"]

_READ_SQL = "SELECT data FROM model_blobs WHERE model_id = %s AND version = %s AND path = %s"


def _where(model_id: str, version: int, path: str | None) -> list[Any]:
    where = [model_blobs.c.model_id == model_id, model_blobs.c.version == version]
    if path is not None:
        where.append(model_blobs.c.path == path)
    return where


def put(conn: sa.Connection, model_id: str, version: int, path: str, data: bytes | memoryview) -> None:
    """Store ``data`` as the bytes of ``model_id:version`` under ``path``, replacing what it had."""
    conn.execute(model_blobs.delete().where(*_where(model_id, version, None)))
    conn.execute(model_blobs.insert().values(model_id=model_id, version=version, path=path,
                                             nbytes=memoryview(data).nbytes, stored_at=utcnow(), data=data))


def read(conn: sa.Connection, model_id: str, version: int, path: str) -> bytes | None:
    """The bytes stored for ``model_id:version`` under ``path``, or None."""
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        driver = conn.connection.driver_connection
        assert driver is not None
        with driver.cursor(binary=True) as cursor:
            cursor.execute(_READ_SQL, (model_id, version, path))
            found = cursor.fetchone()
    else:
        found = conn.execute(sa.select(model_blobs.c.data).where(*_where(model_id, version, path))).first()
    return None if found is None else found[0]


def exists(conn: sa.Connection, model_id: str, version: int, path: str) -> bool:
    """Whether bytes are stored for ``model_id:version`` under ``path``."""
    query = sa.select(model_blobs.c.nbytes).where(*_where(model_id, version, path))
    return conn.execute(query).first() is not None


def delete(conn: sa.Connection, model_id: str, version: int, path: str | None = None) -> int:
    """Remove the bytes of ``model_id:version`` (only if stored under ``path``, when given);
    return how many bytes were freed."""
    where = _where(model_id, version, path)
    freed = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(model_blobs.c.nbytes), 0)).where(*where)).scalar()
    conn.execute(model_blobs.delete().where(*where))
    return int(freed or 0)


def index(conn: sa.Connection) -> list[Mapping[str, Any]]:
    """Every stored version's ``model_id``, ``version``, ``path``, ``nbytes`` and ``stored_at``
    (not the bytes), ordered by path."""
    query = sa.select(model_blobs.c.model_id, model_blobs.c.version, model_blobs.c.path,
                      model_blobs.c.nbytes, model_blobs.c.stored_at).order_by(model_blobs.c.path)
    return [dict(r._mapping) for r in conn.execute(query)]


class RegistryBlobs:
    """The model bytes of `Registry` (``models_directory="db://"``): a part of it, using its
    transactions and locks."""

    if TYPE_CHECKING:
        def atomic(self, write: bool = True) -> AbstractContextManager[sa.Connection]: ...
        def lock(self, model_id: str) -> None: ...
        def _locked_row(self, model_id: str, version: int) -> dict[str, Any]: ...
        def _safe_url(self) -> str: ...

    def put_model_bytes(self, model_id: str, version: int, path: str, data: bytes | memoryview) -> None:
        """Store ``data`` as the bytes of ``model_id:version`` (standing for the file ``path``).

        Replaces what the version had, under the id's write lock. Compose it
        with `set_file` inside one ``with registry.atomic():`` so that the
        version is marked ready in the transaction that stores its bytes.
        `ModelNotFoundError` when the version does not exist.
        """
        with self.atomic() as conn:
            self._locked_row(model_id, version)
            put(conn, model_id, version, path, data)

    def model_bytes(self, model_id: str, version: int, path: str) -> bytes | None:
        """The bytes stored for ``model_id:version`` under ``path``, or None; read once, in binary."""
        with self.atomic(write=False) as conn:
            try:
                return read(conn, model_id, version, path)
            except sa.exc.DBAPIError:
                raise
            except Exception as err:  # the driver's own errors (binary read on PostgreSQL)
                if not type(err).__module__.startswith("psycopg"):
                    raise
                raise RegistryError(f"Registry database {self._safe_url()} failed while reading the "
                                    f"bytes of {model_id}:{version}: {type(err).__name__}: {err}") from err

    def has_model_bytes(self, model_id: str, version: int, path: str) -> bool:
        """Whether bytes are stored for ``model_id:version`` under ``path``."""
        with self.atomic(write=False) as conn:
            return exists(conn, model_id, version, path)

    def delete_model_bytes(self, model_id: str, version: int, path: str | None = None) -> int:
        """Remove the stored bytes of a version (only those under ``path`` when given); return the
        number of bytes freed. Deleting the version's row (`delete`) frees them too."""
        with self.atomic() as conn:
            self.lock(model_id)
            return delete(conn, model_id, version, path)

    def model_bytes_index(self) -> list[dict[str, Any]]:
        """``model_id``, ``version``, ``path``, ``nbytes`` and ``stored_at`` of all stored bytes."""
        with self.atomic(write=False) as conn:
            return [dict(r) for r in index(conn)]
