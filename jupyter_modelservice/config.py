"""Where the registry lives: database URL and model store from ModelService's arguments."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from .artifacts.database_store import DATABASE_STORE, is_database_store
from .exceptions import InvalidInputError
from .redaction import redact_url

__all__ = ["DATABASE_STORE", "DB_TYPES", "ENV_DB_URL", "is_database_store", "is_remote", "make_store",
           "parse_db_url", "registry_url"]

DB_TYPES = ("sqlite", "postgresql")
ENV_DB_URL = "MODELSERVICE_DB_URL"


def is_remote(models_directory: str | os.PathLike[str]) -> bool:
    """Whether ``models_directory`` is an fsspec URL other than ``file://``."""
    text = os.fspath(models_directory)
    return "://" in text and not text.startswith("file://")


def registry_url(db_type: str, models_directory: str | os.PathLike[str],
                 db_url: str | sa.URL | None) -> sa.URL:
    """The SQLAlchemy URL for ``db_type``, checking the combination is usable.

    The SQLite file's URL is built with :meth:`sqlalchemy.URL.create`, so a
    folder named ``team%41`` or ``exp?1`` is taken as the path it is.
    """
    if db_type not in DB_TYPES:
        raise InvalidInputError(f"db_type must be one of {DB_TYPES}, got {db_type!r}.")
    if db_type == "sqlite" and is_database_store(models_directory):
        if not db_url:
            raise InvalidInputError(
                f"models_directory={DATABASE_STORE!r} keeps the models in the registry database, which has "
                "no folder to put a SQLite file in: name the file with db_url='sqlite:///path/to/registry.db' "
                "(or use db_type='postgresql', where the whole team reaches it)."
            )
        return parse_db_url(db_url)
    if db_type == "sqlite":
        if is_remote(models_directory):
            raise InvalidInputError(
                f"models_directory {os.fspath(models_directory)!r} is remote, but a SQLite registry "
                "cannot be shared across machines; use db_type='postgresql' with a remote store, "
                "or a local models_directory."
            )
        if db_url:
            return parse_db_url(db_url)
        folder = Path(os.fspath(models_directory).removeprefix("file://")).expanduser().absolute()
        folder.mkdir(parents=True, exist_ok=True)
        return sa.URL.create("sqlite", database=str(folder / "registry.db"))
    url = db_url or os.environ.get(ENV_DB_URL)
    if not url:
        raise InvalidInputError(
            f"db_type='postgresql' needs db_url='postgresql+psycopg://user@host/dbname' "
            f"or the environment variable {ENV_DB_URL}."
        )
    parsed = parse_db_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def parse_db_url(url: str | sa.URL) -> sa.URL:
    """``url`` as a :class:`sqlalchemy.URL`; `InvalidInputError` when it cannot be one."""
    if isinstance(url, sa.URL):
        return url
    try:
        return sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as err:  # ValueError: a port that is not a number
        raise InvalidInputError(
            f"Cannot read the database URL {redact_url(url)!r} ({err}); write it as "
            "dialect+driver://user:password@host:port/dbname, e.g. "
            "postgresql+psycopg://me@db.example.org:5432/models, with special characters in the "
            "password percent-encoded (@ as %40)."
        ) from err


def make_store(models_directory: str | os.PathLike[str], storage_options: dict[str, Any] | None = None,
               registry: Any = None) -> Any:
    """A `LocalStore` for a folder, an fsspec-backed store for a URL, or for ``"db://"`` a
    `DatabaseStore` in ``registry``'s database (``storage_options`` may set only ``max_bytes``)."""
    text = os.fspath(models_directory)
    if is_database_store(text):
        from .artifacts.database_store import DatabaseStore

        options = dict(storage_options or {})
        unknown = sorted(set(options) - {"max_bytes"})
        if unknown or registry is None:
            raise InvalidInputError(
                f"models_directory={DATABASE_STORE!r} takes only storage_options={{'max_bytes': ...}} "
                f"(the size limit of a model kept in the database), not {unknown}."
                if unknown else "The database store needs the registry whose database keeps the bytes."
            )
        return DatabaseStore(registry, options.get("max_bytes"))
    if is_remote(text):
        from .artifacts.remote import FsspecStore

        return FsspecStore(text, storage_options or {})
    from .artifacts.local import LocalStore

    return LocalStore(text.removeprefix("file://"))
