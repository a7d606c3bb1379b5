"""Fixtures for the team setup: a throwaway PostgreSQL database, a moto S3 server, Dask.

Nothing here touches existing data: each test session creates its own
database ``ms_test_<random>`` (dropped at the end) on the server named by
``MODELSERVICE_TEST_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``),
and every test gets its own schema in it. The S3 server is a ``moto_server``
subprocess on a free port, killed at the end of the session.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.conftest import free_port, need

PG_ADMIN_URL = os.environ.get("MODELSERVICE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _sqlalchemy(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def _with_database(url: str, name: str) -> str:
    head, _, tail = url.rpartition("/")
    query = tail.partition("?")[2]
    return f"{head}/{name}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def pg_database():
    """SQLAlchemy URL of a database created for this test session."""
    try:
        import psycopg
    except ImportError:
        need(False, "psycopg is not installed (pip install 'jupyter_modelservice[postgres]')")
    try:
        admin = psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as err:
        need(False, f"no PostgreSQL server at {PG_ADMIN_URL}: {str(err).strip()}")
    name = f"ms_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _sqlalchemy(_with_database(PG_ADMIN_URL, name))
    finally:
        with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_database):
    """A URL whose connections use a fresh, empty schema of the session database."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(pg_database), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in pg_database else "?"
    return f"{pg_database}{sep}options=-csearch_path%3D{schema}"


def _moto_binary() -> str | None:
    beside = Path(sys.executable).with_name("moto_server")
    return str(beside) if beside.exists() else shutil.which("moto_server")


@pytest.fixture(scope="session")
def s3_endpoint():
    """``http://127.0.0.1:<port>`` of a moto S3 server running for this session."""
    binary = _moto_binary()
    need(binary is not None, "moto_server is not installed (pip install 'moto[server]')")
    try:
        import s3fs  # noqa: F401
    except ImportError:
        need(False, "s3fs is not installed (pip install 'jupyter_modelservice[s3]')")
    port = free_port()
    proc = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    need(False, f"moto_server did not start on port {port}")
                time.sleep(0.1)
        yield endpoint
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="session")
def s3_options(s3_endpoint):
    """``storage_options`` for the moto server (bucket ``ms-test`` exists)."""
    import s3fs

    options = {"endpoint_url": s3_endpoint, "key": "testing", "secret": "testing"}
    fs = s3fs.S3FileSystem(**options)
    fs.mkdir("ms-test")
    return options


@pytest.fixture
def s3_url(s3_options):
    """A fresh prefix in the test bucket."""
    return f"s3://ms-test/{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def dask_client():
    """A 2-worker process cluster on 127.0.0.1, shared by the tests of one module."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        need(False, "dask.distributed is not installed (pip install 'jupyter_modelservice[dask]')")
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None)
    client = Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="session")
def small_data():
    """A tiny classification set (fast fits for many processes)."""
    from sklearn.datasets import make_classification

    return make_classification(n_samples=120, n_features=6, n_informative=4, random_state=0)


@pytest.fixture(params=["sqlite", "postgresql"])
def service(request, tmp_path):
    """A `ModelService` on a SQLite registry, then on the PostgreSQL server (files in ``tmp_path``)."""
    from jupyter_modelservice import ModelService

    if request.param == "sqlite":
        svc = ModelService(models_directory=tmp_path / "models")
    else:
        svc = ModelService(db_type="postgresql", db_url=request.getfixturevalue("pg_url"),
                           models_directory=tmp_path / "models")
    yield svc
    svc.close()
