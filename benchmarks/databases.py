"""The registries a benchmark runs against: SQLite, then the PostgreSQL server when it is there."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jupyter_modelservice import ModelService


def each_database(**options: Any) -> Iterator[tuple[str, ModelService]]:
    """``("SQLite", service)``, then ``("PostgreSQL", service)`` on a throwaway database of the
    server (`bench_team.pg_database`), each with its models in a temporary folder; a PostgreSQL
    that cannot be reached is reported and skipped. Each service is closed after its turn."""
    with tempfile.TemporaryDirectory() as tmp:
        service = ModelService(models_directory=Path(tmp) / "models", **options)
        try:
            yield "SQLite", service
        finally:
            service.close()
    try:
        import psycopg

        from benchmarks.bench_team import pg_database

        database = pg_database()
        url = database.__enter__()
    except (ImportError, OSError, psycopg.OperationalError) as err:
        print(f"PostgreSQL not available ({err}): skipped", flush=True)
        return
    try:
        with tempfile.TemporaryDirectory() as tmp:
            service = ModelService(db_type="postgresql", db_url=url.replace("postgresql://", "postgresql+psycopg://", 1),
                                   models_directory=Path(tmp) / "models", **options)
            try:
                yield "PostgreSQL", service
            finally:
                service.close()
    finally:
        database.__exit__(None, None, None)
