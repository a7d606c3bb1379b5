"""Where cross-validation folds and multi-model work run: local joblib or a Dask cluster.

``ModelService(parallel_backend="dask", scheduler="tcp://host:8786")`` runs CV
folds and comparisons on the cluster through joblib's Dask backend; an
already active ``joblib.parallel_config(backend=...)`` is honoured as it is.
Work is split the same way whatever the backend (the folds are computed
before anything is sent), so results equal a local run with the same seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from .exceptions import InvalidInputError

__all__ = ["BACKENDS", "ParallelConfig"]

BACKENDS = (None, "loky", "threading", "dask")


class ParallelConfig:
    """The joblib backend to run work under; the Dask client is created on first use.

    Parameters
    ----------
    backend : {None, "loky", "threading", "dask"}
        None leaves the choice to the active ``joblib.parallel_config``.
    scheduler : str or distributed.Client, optional
        For ``"dask"``: a scheduler address, a client, or None for the
        client that is already running (``distributed.default_client()``).
    """

    def __init__(self, backend: str | None = None, scheduler: Any = None) -> None:
        if backend not in BACKENDS:
            raise InvalidInputError(f"parallel_backend must be one of {BACKENDS}, got {backend!r}.")
        if scheduler is not None and backend != "dask":
            raise InvalidInputError("scheduler= is only used with parallel_backend='dask'.")
        self.backend = backend
        self.scheduler = scheduler
        self._client: Any = None
        self._owns_client = False

    def __repr__(self) -> str:
        return f"ParallelConfig(backend={self.backend!r}, scheduler={self.scheduler!r})"

    def context(self) -> AbstractContextManager[Any]:
        """A context manager activating the backend (a no-op for the default)."""
        if self.backend is None:
            return nullcontext()
        import joblib

        if self.backend == "dask":
            # Name the client explicitly: another client may be the process default.
            return joblib.parallel_config(backend="dask", client=self.client())
        return joblib.parallel_config(backend=self.backend)

    def starmap(self, func: Callable[..., Any], args: Iterable[tuple[Any, ...]], *,
                n_jobs: int | None = None) -> Iterator[Any]:
        """``func(*a)`` for each tuple of ``args`` under the backend, yielded in order.

        Under the default (no backend, no active ``parallel_config``) the calls
        run one after the other in this process, as a plain loop would.
        """
        from joblib import Parallel, delayed

        with self.context():
            yield from Parallel(n_jobs=n_jobs, return_as="generator")(
                delayed(func)(*a) for a in args
            )

    def client(self) -> Any:
        """The ``distributed.Client`` (connects to ``scheduler`` or the running one)."""
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
                try:
                    self._client = Client(self.scheduler, set_as_default=False)
                except OSError as err:
                    raise InvalidInputError(
                        f"Cannot reach the Dask scheduler {self.scheduler!r}: {err}. Check the "
                        "address (tcp://host:8786) and that the scheduler is running."
                    ) from err
                self._owns_client = True
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
        """Close the client if this object connected it; a client it was given stays open."""
        if self._client is not None and self._owns_client:
            self._client.close()
        self._client = None
        self._owns_client = False
