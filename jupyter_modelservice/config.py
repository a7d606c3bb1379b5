"""Where the registry lives: database URL and model store from ModelService's arguments."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .exceptions import InvalidInputError

__all__ = ["DB_TYPES", "ENV_DB_URL", "is_remote", "make_store", "registry_url"]

DB_TYPES = ("sqlite", "postgresql")
ENV_DB_URL = "MODELSERVICE_DB_URL"


def is_remote(models_directory: str | os.PathLike[str]) -> bool:
    """Whether ``models_directory`` is an fsspec URL other than ``file://``."""
    text = os.fspath(models_directory)
    return "://" in text and not text.startswith("file://")


def registry_url(db_type: str, models_directory: str | os.PathLike[str], db_url: str | None) -> str:
    """The SQLAlchemy URL for ``db_type``, checking the combination is usable."""
    if db_type not in DB_TYPES:
        raise InvalidInputError(f"db_type must be one of {DB_TYPES}, got {db_type!r}.")
    if db_type == "sqlite":
        if is_remote(models_directory):
            raise InvalidInputError(
                f"models_directory {os.fspath(models_directory)!r} is remote, but a SQLite registry "
                "cannot be shared across machines; use db_type='postgresql' with a remote store, "
                "or a local models_directory."
            )
        if db_url:
            return db_url
        folder = Path(os.fspath(models_directory).removeprefix("file://")).expanduser().absolute()
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / 'registry.db'}"
    url = db_url or os.environ.get(ENV_DB_URL)
    if not url:
        raise InvalidInputError(
            f"db_type='postgresql' needs db_url='postgresql+psycopg://user@host/dbname' "
            f"or the environment variable {ENV_DB_URL}."
        )
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_store(models_directory: str | os.PathLike[str], storage_options: dict[str, Any] | None = None) -> Any:
    """A `LocalStore` for a folder, or an fsspec-backed store for a URL."""
    text = os.fspath(models_directory)
    if is_remote(text):
        from .artifacts.remote import FsspecStore

        return FsspecStore(text, storage_options or {})
    from .artifacts.local import LocalStore

    return LocalStore(text.removeprefix("file://"))
