"""`RegistryReads`: the read side of `Registry`: its transactions, and every query of rows and history.

`Registry` (in `database`) adds the writers. A read opens ``with
self.atomic(write=False):``, which inside an open transaction reads through
it (and sees its writes), and otherwise runs on its own.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from ..exceptions import ModelNotFoundError, RegistryError
from ..redaction import redact_url, scrub_secrets
from .queries import (
    ID_MATCHES,
    INDEXED_SEARCH,
    Search,
    class_matches,
    count_query,
    events_query,
    rows_query,
    search_pattern,
    unindexed_condition,
)
from .schema import events, model_metadata, schema_info
from .transaction import Transactions
from .where import parse_where

__all__ = ["RegistryReads"]



#: Statements built once (their compiled form is cached by SQLAlchemy); parameters at execution.
_ONE_VERSION = sa.select(model_metadata).where(model_metadata.c.model_id == sa.bindparam("model_id"),
                                               model_metadata.c.version == sa.bindparam("version"))
#: An id other than ``model_id`` that differs from it only in letter case, else NULL. An id that
#: exists has none (every writer refuses to add one), so it costs an index lookup either way.
_CASE_CONFLICT = sa.select(sa.case(
    (sa.exists().where(model_metadata.c.model_id == sa.bindparam("model_id")), sa.null()),
    else_=sa.select(model_metadata.c.model_id)
    .where(sa.func.lower(model_metadata.c.model_id) == sa.bindparam("lowered")).limit(1).scalar_subquery(),
))
#: The id's highest version among its rows, and in its history (deleted versions included).
_LATEST = sa.select(sa.func.max(model_metadata.c.version)).where(
    model_metadata.c.model_id == sa.bindparam("model_id")).scalar_subquery()
_USED = sa.select(sa.func.max(events.c.version)).where(events.c.model_id == sa.bindparam("model_id")).scalar_subquery()
#: (other id differing in letter case, latest version, highest version ever used) of ``model_id``.
_ALLOCATION = sa.select(_CASE_CONFLICT.scalar_subquery(), _LATEST, _USED)
#: How many versions have one of the ``classes``, counted up to one past `INDEXED_SEARCH`.
_CLASS_VERSIONS = sa.select(sa.func.count()).select_from(
    sa.select(sa.literal(1)).where(model_metadata.c.model_class.in_(sa.bindparam("classes", expanding=True)))
    .limit(INDEXED_SEARCH + 1).subquery())


@functools.lru_cache(maxsize=32)
def insert_next_version(names: tuple[str, ...], dialect: str) -> sa.Insert:
    """``INSERT ... SELECT ... RETURNING`` of a row with the columns ``names`` as the id's next version.

    The version is computed in the statement (one more than the id's rows and
    history, as in `_ALLOCATION`: a deleted version's number is not reused),
    and the row is inserted only when no other id differs from it in letter
    case alone: nothing is returned then. Run it under the id's write lock.
    Built once per column set and dialect; parameters as `id_params` plus the
    row's values.
    """
    c = model_metadata.c
    highest = sa.func.greatest if dialect == "postgresql" else sa.func.max  # SQLite's max(a, b) is scalar
    version = highest(sa.func.coalesce(_LATEST, 0), sa.func.coalesce(_USED, 0)) + 1
    values = sa.select(*(sa.bindparam(name, type_=c[name].type) for name in names), version)
    return (model_metadata.insert()
            .from_select([*names, "version"], values.where(_CASE_CONFLICT.scalar_subquery().is_(None)))
            .returning(*c))


@functools.lru_cache(maxsize=32)
def register_statement(names: tuple[str, ...], dialect: str) -> tuple[sa.Executable, bool]:
    """`insert_next_version`, and whether the statement also inserts the ``registered`` event.

    On PostgreSQL it does: a data-modifying ``WITH`` runs to completion, so the
    row and its event cost one round trip (parameters ``actor`` and ``at``
    besides the row's). SQLite has no such ``WITH``; its caller inserts the event.
    """
    insert = insert_next_version(names, dialect)
    if dialect != "postgresql":
        return insert, False
    row = insert.cte("new_row")
    event = events.insert().from_select(
        ["model_id", "version", "event", "to_status", "actor", "at"],
        sa.select(row.c.model_id, row.c.version, sa.literal("registered"), row.c.status,
                  sa.bindparam("actor", type_=events.c.actor.type), sa.bindparam("at", type_=events.c.at.type)))
    return sa.select(row).add_cte(event.cte("new_event")), True


def id_params(model_id: str) -> dict[str, str]:
    """The parameters of `_CASE_CONFLICT` and `_ALLOCATION`."""
    return {"model_id": model_id, "lowered": model_id.lower()}


#: SQLite's steps (virtual-machine instructions) a page with a ``where`` may take in the plan SQLite
#: chose before it is read in its sort order instead (5-10 ms here; a page of 100 rows takes about
#: 11,000). Without statistics of the values, SQLite prefers the index of a ``where`` column
#: (``status == 'saved' and validation_score >= 0.9``: every saved version above 0.9, a fifth of a
#: million, sorted: 140 ms) to reading the sort order's index until a page has matched, which a
#: common match makes short (then 11 ms in all).
_PLANNED_STEPS = 50_000


def _within(conn: sa.Connection, query: sa.Select[Any], steps: int) -> Sequence[sa.Row[Any]] | None:
    """The rows of ``query`` on SQLite, or None when it takes more than ``steps`` steps (stopped there)."""
    raw: Any = conn.connection.driver_connection  # sqlite3.Connection
    period = max(1, min(1000, steps))  # SQLite calls `count` after every `period` steps
    calls = 0

    def count() -> bool:
        nonlocal calls
        calls += 1
        return calls * period > steps

    raw.set_progress_handler(count, period)
    try:
        return conn.execute(query).all()
    except sa.exc.OperationalError:
        if calls * period <= steps:  # not stopped here: a real error
            raise
        return None
    finally:
        raw.set_progress_handler(None, period)


class RegistryReads:
    """Transactions and queries over one registry database (see `Registry`)."""

    #: The URL as text (special characters percent-encoded, so it reads back the same).
    url: str
    engine: sa.Engine
    #: ``"sqlite"`` or ``"postgresql"``.
    dialect: str
    _transactions: Transactions

    @contextmanager
    def atomic(self, write: bool = True) -> Iterator[sa.Connection]:
        """One transaction; inside another one, a savepoint (write) or the same transaction (read).

        ``write=True`` takes SQLite's write lock at BEGIN. On PostgreSQL
        ``write=False`` runs each statement on its own (autocommit): reads are
        single statements, and this saves the BEGIN and COMMIT round trips.
        Every registry method called inside the block runs in this transaction.
        A write block inside a read-only one is refused (`RegistryError`).
        """
        with self._transactions.atomic(write) as tx:
            yield tx.connection

    def in_transaction(self) -> bool:
        """Whether a transaction of this registry is open in the current thread or task."""
        return self._transactions.current() is not None

    def changed(self) -> list[tuple[str, int]]:
        """``(model_id, version)`` of every row written so far in the current transaction, in order.

        Empty outside a transaction. `ModelFiles.atomic` writes the sidecars of
        these rows before the transaction commits.
        """
        tx = self._transactions.current()
        return list(tx.changed) if tx is not None else []

    def _connection(self) -> sa.Connection:
        tx = self._transactions.current()
        assert tx is not None, "called outside `with self.atomic():`"
        return tx.connection

    def _failed(self, err: sa.exc.DBAPIError) -> RegistryError:
        reason = scrub_secrets(str(err.orig), self.engine.url, self.url)
        return RegistryError(f"Registry database {self._safe_url()} failed: {reason}")

    def _safe_url(self) -> str:
        return redact_url(self.engine.url)

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        with self.atomic(write=False) as conn:
            return int(
                conn.execute(
                    sa.select(schema_info.c.value).where(schema_info.c.key == "schema_version")
                ).scalar_one()
            )

    def next_version(self, model_id: str) -> int:
        """The number the next version of ``model_id`` would get (deleted numbers are skipped)."""
        with self.atomic(write=False) as conn:
            return self._next_version(conn, model_id)

    def case_conflict(self, model_id: str) -> str | None:
        """Another registered id equal to ``model_id`` but for letter case, else None."""
        with self.atomic(write=False) as conn:
            return self._case_conflict(conn, model_id)

    @staticmethod
    def _case_conflict(conn: sa.Connection, model_id: str) -> str | None:
        return conn.execute(_CASE_CONFLICT, id_params(model_id)).scalar()

    def get(self, model_id: str, version: int | None = None) -> dict[str, Any]:
        """The row of one version (the latest when ``version`` is None)."""
        with self.atomic(write=False) as conn:
            return self._get(conn, model_id, version)

    def latest_version(self, model_id: str) -> int | None:
        """The highest version of ``model_id``, or None when it has none."""
        with self.atomic(write=False) as conn:
            return self._latest(conn, model_id)

    def _latest(self, conn: sa.Connection, model_id: str) -> int | None:
        return conn.execute(
            sa.select(sa.func.max(model_metadata.c.version)).where(
                model_metadata.c.model_id == model_id
            )
        ).scalar()

    @staticmethod
    def _used(conn: sa.Connection, model_id: str, version: int) -> bool:
        """Whether ``model_id:version`` exists or ever existed (its history outlives a delete)."""
        where = (events.c.model_id == model_id, events.c.version == version)
        row_where = (model_metadata.c.model_id == model_id, model_metadata.c.version == version)
        return (conn.execute(sa.select(model_metadata.c.version).where(*row_where)).first() is not None
                or conn.execute(sa.select(events.c.event_id).where(*where).limit(1)).first() is not None)

    def _next_version(self, conn: sa.Connection, model_id: str) -> int:
        """One past every version the id ever had: a deleted version's number is not reused,
        so its history never mixes with a new model's."""
        used = conn.execute(
            sa.select(sa.func.max(events.c.version)).where(events.c.model_id == model_id)
        ).scalar()
        return max(self._latest(conn, model_id) or 0, used or 0) + 1

    def _get(self, conn: sa.Connection, model_id: str, version: int | None) -> dict[str, Any]:
        if version is None:
            query = (sa.select(model_metadata).where(model_metadata.c.model_id == model_id)
                     .order_by(model_metadata.c.version.desc()).limit(1))
            row = conn.execute(query).first()
        else:  # the hot path (every write reads its row back): one statement, compiled once
            row = conn.execute(_ONE_VERSION, {"model_id": model_id, "version": version}).first()
        if row is None:
            raise ModelNotFoundError(self._missing_message(conn, model_id, version))
        return dict(row._mapping)

    def _missing_message(self, conn: sa.Connection, model_id: str, version: int | None) -> str:
        latest = self._latest(conn, model_id)
        if latest is None:
            return (f"No model {model_id!r} in the registry; list_models() shows the ids "
                    "that exist.")
        return f"Model {model_id!r} has no version {version} (latest is {latest})."

    def list(
        self,
        *,
        status: str | None = None,
        model_id: str | None = None,
        search: str | None = None,
        order_by: str = "-training_date",
        limit: int | None = None,
        offset: int = 0,
        latest_only: bool = False,
        where: str | None = None,
    ) -> list[dict[str, Any]]:
        """Rows matching every given filter, as dicts, in ``order_by`` order.

        ``order_by`` is a column name, prefixed with ``-`` for descending.
        ``search`` matches id or class name, case-insensitively, as plain text.
        ``where`` is an expression of the query language (`where.parse_where`),
        e.g. ``"validation_score >= 0.9 and tags.team == 'vision'"``.
        """
        condition = self._where(where)
        with self._transactions.atomic(False, snapshot=bool(search)) as tx:  # the search and its page: one state
            conn = tx.connection
            found = self._search(conn, search)

            def query(where: Any) -> sa.Select[Any]:
                return rows_query(status=status, model_id=model_id, search=found, order_by=order_by,
                                  limit=limit, offset=offset, latest_only=latest_only, where=where)

            if self.dialect == "sqlite" and condition is not None and limit is not None:
                rows = _within(conn, query(condition), _PLANNED_STEPS)
                if rows is None:  # the plan SQLite chose ran long: read the page in its sort order instead
                    rows = conn.execute(query(unindexed_condition(condition))).all()
            else:
                rows = conn.execute(query(condition)).all()
            return [dict(r._mapping) for r in rows]

    def iter_rows(self, *, status: str | None = None, model_id: str | None = None,
                  search: str | None = None, order_by: str = "-training_date", limit: int | None = None,
                  latest_only: bool = False, where: str | None = None,
                  batch: int = 1000) -> Iterator[dict[str, Any]]:
        """The rows of :meth:`list`, read ``batch`` at a time: memory stays that of one batch.

        The read holds a connection (on PostgreSQL a server-side cursor in a
        read transaction) until the iterator is exhausted or closed; close it
        (``contextlib.closing``) when stopping early. Inside a transaction of
        this registry it reads through that one (PostgreSQL then fetches every
        row at once when that one is a read).
        """
        condition = self._where(where)
        with self._transactions.streaming(snapshot=bool(search)) as conn:
            query = rows_query(status=status, model_id=model_id, search=self._search(conn, search),
                               order_by=order_by, limit=limit, offset=0, latest_only=latest_only, where=condition)
            if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
                query = query.execution_options(yield_per=batch)  # a PostgreSQL cursor needs a transaction
            for rows in conn.execute(query).partitions(batch):
                yield from (dict(r._mapping) for r in rows)

    def count(self, *, status: str | None = None, model_id: str | None = None,
              search: str | None = None, where: str | None = None, limit: int | None = None) -> int:
        """How many versions match the filters of :meth:`list`.

        With ``limit``, at most ``limit``: the query stops at the ``limit``-th
        match instead of reading every one (``limit + 1`` tells "more than limit").
        """
        condition = self._where(where)
        with self._transactions.atomic(False, snapshot=bool(search)) as tx:
            conn = tx.connection
            query = count_query(status=status, model_id=model_id, search=self._search(conn, search, walk=False),
                                where=condition, limit=limit)
            return int(conn.execute(query).scalar_one())

    def _where(self, text: str | None) -> Any:
        return None if text is None else parse_where(text, self.dialect)

    @staticmethod
    def _search(conn: sa.Connection, text: str | None, *, walk: bool = True) -> Search | None:
        """What ``text`` matches as a search of ids and class names (None for no search).

        Two small reads: the ids containing it (`model_ids`) with their number of
        versions, and the class names containing it (one index lookup per
        class). For a sorted page their versions are then looked up when they
        are few (a search matching nothing reads no version), or tested in the
        page's order when they are many (counted up to `INDEXED_SEARCH`);
        ``walk=False`` always looks them up (a count stops at its limit).
        """
        if not text:
            return None
        pattern = search_pattern(text)
        ids, versions = conn.execute(ID_MATCHES, {"pattern": pattern}).one()
        classes = tuple(conn.execute(class_matches(), {"pattern": pattern}).scalars())
        if not walk:
            return Search(pattern, int(ids), classes, walk=False)
        if classes and versions <= INDEXED_SEARCH:
            versions += conn.execute(_CLASS_VERSIONS, {"classes": classes}).scalar_one()
        return Search(pattern, int(ids), classes, walk=versions > INDEXED_SEARCH)

    def events(self, model_id: str | None = None, version: int | None = None, *,
               kinds: Iterable[str] | None = None) -> builtins.list[dict[str, Any]]:
        """The status history, oldest first; ``kinds`` keeps only those event names."""
        with self.atomic(write=False) as conn:
            return [dict(r._mapping) for r in conn.execute(events_query(model_id, version, kinds))]
