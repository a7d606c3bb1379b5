"""Where cross-validation folds and multi-model work run: local joblib or a Dask cluster.

``ModelService(parallel_backend="dask", scheduler="tcp://host:8786")`` runs CV
folds on the cluster through joblib's Dask backend; an already active
``joblib.parallel_config(backend=...)`` is honoured as it is.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from .exceptions import InvalidInputError

__all__ = ["BACKENDS", "ParallelConfig"]

BACKENDS = (None, "loky", "threading", "dask")


class ParallelConfig:
    """The joblib backend to run work under; the Dask client is created on first use."""

    def __init__(self, backend: str | None = None, scheduler: Any = None) -> None:
        if backend not in BACKENDS:
            raise InvalidInputError(f"parallel_backend must be one of {BACKENDS}, got {backend!r}.")
        if scheduler is not None and backend != "dask":
            raise InvalidInputError("scheduler= is only used with parallel_backend='dask'.")
        self.backend = backend
        self.scheduler = scheduler
        self._client: Any = None

    def context(self) -> AbstractContextManager[Any]:
        """A context manager activating the backend (a no-op for the default)."""
        if self.backend is None:
            return nullcontext()
        import joblib

        if self.backend == "dask":
            self.client()
        return joblib.parallel_config(backend=self.backend)

    def client(self) -> Any:
        """The ``distributed.Client`` (connects to ``scheduler`` or the default one)."""
        if self._client is None:
            try:
                from distributed import Client
            except ImportError as err:
                raise InvalidInputError(
                    "parallel_backend='dask' needs dask.distributed: pip install 'jupyter_modelservice[dask]'."
                ) from err
            if isinstance(self.scheduler, Client):
                self._client = self.scheduler
            elif self.scheduler is not None:
                self._client = Client(self.scheduler)
            else:
                from distributed import default_client

                try:
                    self._client = default_client()
                except ValueError as err:
                    raise InvalidInputError(
                        "parallel_backend='dask' needs scheduler='tcp://host:port' or a running "
                        "distributed.Client."
                    ) from err
        return self._client

    def close(self) -> None:
        """Close a client this object created."""
        if self._client is not None and not _same(self._client, self.scheduler):
            self._client.close()
        self._client = None


def _same(client: Any, scheduler: Any) -> bool:
    return client is scheduler
