"""Shared fixtures: a tmp registry, small datasets, and the service-availability rule.

Integration tests call :func:`need` when a service (PostgreSQL, S3, Dask,
Chromium) is missing: it skips with the reason, or fails when
``MODELSERVICE_REQUIRE_SERVICES=1`` (set by CI).
"""

from __future__ import annotations

import os
import socket

import pytest

REQUIRE_SERVICES = os.environ.get("MODELSERVICE_REQUIRE_SERVICES") == "1"


def need(available: bool, reason: str) -> None:
    """Skip (or fail under MODELSERVICE_REQUIRE_SERVICES=1) when a service is absent."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a test server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def service(tmp_path):
    from jupyter_modelservice import ModelService

    svc = ModelService(models_directory=tmp_path / "models")
    yield svc
    svc.close()


@pytest.fixture(scope="session")
def cancer():
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(return_X_y=True, as_frame=True)


@pytest.fixture(scope="session")
def iris():
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


@pytest.fixture(scope="session")
def diabetes():
    from sklearn.datasets import load_diabetes

    return load_diabetes(return_X_y=True)
