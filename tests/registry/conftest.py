"""Fixtures shared by the registry tests: an empty registry in a SQLite file, and the PostgreSQL
server's (`tests.integration.conftest`)."""

from __future__ import annotations

import pytest

from jupyter_modelservice.registry import Registry
from tests.integration.conftest import _libpq, pg_database, pg_url  # noqa: F401 - fixtures used by name


@pytest.fixture
def reg(tmp_path):
    """An empty registry in ``tmp_path/registry.db``."""
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    yield registry
    registry.close()
