"""Transactions of the registry that compose: the current one is found, nested ones are savepoints.

The connection of the transaction running in this thread (or task) is kept
in a `ContextVar`, so every `Registry` method called inside ``with
registry.atomic():`` uses it without being handed it. A nested write block
becomes a ``SAVEPOINT``: an error inside it undoes only its own writes (and
propagates); a nested read block simply reads through the outer transaction,
seeing its writes. As in sqlite-utils' ``Database.atomic()``, each writer
opens the block itself, and a caller composes several writers into one
transaction by wrapping them in one outer block.

A write transaction holds the write lock of SQLite (``BEGIN IMMEDIATE``)
from its start; on PostgreSQL each model id is locked on first use
(`Transaction.locked` remembers which, so a lock costs one round trip per
transaction).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import sqlalchemy as sa

from ..exceptions import RegistryError

__all__ = ["Transaction", "Transactions"]


@dataclass
class Transaction:
    """The state of one open transaction (shared by the blocks nested in it)."""

    connection: sa.Connection
    write: bool
    #: Case-folded model ids whose write lock this transaction holds.
    locked: set[str] = field(default_factory=set)
    #: ``(model_id, version)`` of every row written so far, in order (repeats kept).
    changed: list[tuple[str, int]] = field(default_factory=list)


class Transactions:
    """Opens transactions on ``engine`` and finds the one running in the current context.

    ``failed(err)`` turns a driver error (cannot connect, lock timeout) into
    the error raised to the caller.
    """

    def __init__(self, engine: sa.Engine, failed: Callable[[sa.exc.DBAPIError], Exception]) -> None:
        self.engine = engine
        self._failed = failed
        self._current: ContextVar[Transaction | None] = ContextVar(f"modelservice_tx_{id(self):x}", default=None)

    def current(self) -> Transaction | None:
        """The transaction open in this context, or None."""
        return self._current.get()

    def require_write(self, what: str) -> Transaction:
        """The open write transaction; `RegistryError` when there is none (a programming error)."""
        tx = self._current.get()
        if tx is None or not tx.write:
            raise RegistryError(
                f"{what} must run inside `with registry.atomic():` (a write transaction): what it "
                "reads or reserves holds only until that transaction ends."
            )
        return tx

    @contextmanager
    def atomic(self, write: bool = True, *, snapshot: bool = False) -> Iterator[Transaction]:
        """A transaction, or a savepoint / plain block inside the one already open.

        ``snapshot`` (reads of several statements): on PostgreSQL a read
        transaction in which every statement sees the same state
        (``REPEATABLE READ``) instead of statements run on their own; inside
        an open transaction the read goes through that one, as any read.
        """
        outer = self._current.get()
        if outer is None:
            with self._outermost(write, snapshot) as tx:
                yield tx
        elif not write:
            yield outer  # a read inside any transaction reads through it
        elif not outer.write:
            raise RegistryError(
                "A registry write was started inside a read-only transaction; open the outer block "
                "with registry.atomic() (write=True) so that it holds the write lock from its start."
            )
        else:
            locked, changed = set(outer.locked), len(outer.changed)
            try:
                with outer.connection.begin_nested():
                    yield outer
            except BaseException:
                # rolled back to the savepoint: so are its locks (PostgreSQL) and its writes
                outer.locked, outer.changed[changed:] = locked, []
                raise

    @contextmanager
    def streaming(self, *, snapshot: bool = False) -> Iterator[sa.Connection]:
        """The connection of one long read: the open transaction's, else a read transaction of its own.

        That one is not made the current transaction: a reader is suspended
        between its rows while its caller does other work, writes included.
        It is a real transaction on PostgreSQL too (a server-side cursor lives
        only inside one).
        """
        outer = self._current.get()
        if outer is not None:
            yield outer.connection
            return
        try:
            connection = self.engine.connect()
        except sa.exc.DBAPIError as err:
            raise self._failed(err) from err
        try:
            with connection as conn:
                conn.execution_options(modelservice_write=False)
                if snapshot and self.engine.dialect.name == "postgresql":  # SQLite's read transaction is one
                    conn.execution_options(isolation_level="REPEATABLE READ")  # reset when returned to the pool
                with conn.begin():
                    yield conn
        except sa.exc.OperationalError as err:
            raise self._failed(err) from err

    @contextmanager
    def _outermost(self, write: bool, snapshot: bool = False) -> Iterator[Transaction]:
        try:
            connection = self.engine.connect()
        except sa.exc.DBAPIError as err:  # cannot connect: server, credentials, options
            raise self._failed(err) from err
        try:
            with connection as conn:
                conn.execution_options(modelservice_write=write)
                if not write and self.engine.dialect.name == "postgresql":
                    conn.execution_options(isolation_level="REPEATABLE READ" if snapshot else "AUTOCOMMIT")
                with conn.begin():
                    tx = Transaction(conn, write)
                    token = self._current.set(tx)
                    try:
                        yield tx
                    finally:
                        self._current.reset(token)
        except sa.exc.OperationalError as err:
            raise self._failed(err) from err
