"""`Registry`: versions, metadata and status history in SQLite or PostgreSQL.

SQLAlchemy Core only; values always travel as bound parameters. Every write is
one transaction: ``BEGIN IMMEDIATE`` on SQLite (WAL, busy timeout), a
transaction-scoped advisory lock per model id on PostgreSQL, so concurrent
writers never allocate the same version twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from ..exceptions import (
    InvalidInputError,
    InvalidModelIdError,
    ModelNotFoundError,
    RegistryError,
    SchemaVersionError,
)
from ..redaction import redact_url, scrub_secrets
from .engine import actor, advisory_key, escape_like, make_engine, utcnow
from .schema import METADATA, MIGRATIONS, SCHEMA_VERSION, events, model_metadata, schema_info

__all__ = ["COLUMNS", "STATUSES", "Registry", "utcnow"]

STATUSES = ("trained", "saved", "production", "archived")
COLUMNS = tuple(c.name for c in model_metadata.columns)
_SORTABLE = frozenset(
    ["model_id", "version", "model_class", "training_date", "train_score", "validation_score",
     "status", "training_samples", "feature_count", "fit_seconds", "file_bytes"]
)
_SCHEMA_LOCK_KEY = 0x6D6F64656C737663  # "modelsvc": serializes schema creation on PostgreSQL
_EVENT_FIELDS = ("model_id", "version", "event", "from_status", "to_status", "actor", "at", "details")


class Registry:
    """Model versions and their metadata in one SQL database.

    Parameters
    ----------
    url : str or sqlalchemy.URL
        SQLAlchemy URL, e.g. ``"sqlite:///models/registry.db"`` or
        ``"postgresql+psycopg://user@host/db"``.
    engine_kwargs : dict, optional
        Passed to :func:`sqlalchemy.create_engine`.

    Examples
    --------
    >>> reg = Registry("sqlite://")            # in memory
    >>> reg.add_version({"model_id": "rf", "model_class": "RandomForestClassifier"})
    1
    """

    def __init__(self, url: str | sa.URL, **engine_kwargs: Any) -> None:
        #: The URL as text (special characters percent-encoded, so it reads back the same).
        self.url = url if isinstance(url, str) else url.render_as_string(hide_password=False)
        self.engine = make_engine(url, **engine_kwargs)
        self.dialect = self.engine.dialect.name
        try:
            self._ensure_schema()
        except BaseException:
            self.engine.dispose()
            raise

    # -- connections -------------------------------------------------------
    @contextmanager
    def atomic(self, write: bool = True) -> Iterator[sa.Connection]:
        """One transaction; ``write=True`` takes the write lock at BEGIN on SQLite.

        On PostgreSQL ``write=False`` runs each statement on its own
        (autocommit): reads are single statements, and this saves the BEGIN
        and COMMIT round trips.
        """
        try:
            connection = self.engine.connect()
        except sa.exc.DBAPIError as err:  # cannot connect: server, credentials, options
            raise self._failed(err) from err
        try:
            with connection as conn:
                conn.execution_options(modelservice_write=write)
                if not write and self.dialect == "postgresql":
                    conn.execution_options(isolation_level="AUTOCOMMIT")
                with conn.begin():
                    yield conn
        except sa.exc.OperationalError as err:
            raise self._failed(err) from err

    def _failed(self, err: sa.exc.DBAPIError) -> RegistryError:
        reason = scrub_secrets(str(err.orig), self.engine.url, self.url)
        return RegistryError(f"Registry database {self._safe_url()} failed: {reason}")

    def _safe_url(self) -> str:
        return redact_url(self.engine.url)

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ------------------------------------------------------------
    def _ensure_schema(self) -> None:
        with self.atomic() as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_SCHEMA_LOCK_KEY)))
            if not sa.inspect(conn).has_table("schema_info"):
                METADATA.create_all(conn)
                conn.execute(
                    schema_info.insert().values(key="schema_version", value=str(SCHEMA_VERSION))
                )
                return
            found = int(
                conn.execute(
                    sa.select(schema_info.c.value).where(schema_info.c.key == "schema_version")
                ).scalar_one()
            )
            if found > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"The registry at {self._safe_url()} has schema version {found}, but this "
                    f"jupyter_modelservice understands up to version {SCHEMA_VERSION}; upgrade "
                    "the package to open it (the registry was left untouched)."
                )
            for step in range(found, SCHEMA_VERSION):
                MIGRATIONS[step](conn)
            if found < SCHEMA_VERSION:
                conn.execute(
                    schema_info.update()
                    .where(schema_info.c.key == "schema_version")
                    .values(value=str(SCHEMA_VERSION))
                )

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        with self.atomic(write=False) as conn:
            return int(
                conn.execute(
                    sa.select(schema_info.c.value).where(schema_info.c.key == "schema_version")
                ).scalar_one()
            )

    # -- writes ------------------------------------------------------------
    def add_version(self, row: Mapping[str, Any]) -> int:
        """Insert ``row`` as the next version of ``row['model_id']``; return the version."""
        values = _clean(row)
        model_id = values["model_id"]
        values.setdefault("training_date", utcnow())
        values.setdefault("status", "trained")
        with self.atomic() as conn:
            self._lock(conn, model_id)
            self._refuse_case_conflict(conn, model_id)
            version = self._next_version(conn, model_id)
            values["version"] = version
            conn.execute(model_metadata.insert().values(values))
            self._event(conn, model_id, version, "registered", None, values["status"])
        return version

    def update(self, model_id: str, version: int, values: Mapping[str, Any], *,
               on_change: Callable[[list[dict[str, Any]]], None] | None = None,
               expect: Mapping[str, Any] | None = None,
               event: tuple[str, dict[str, Any]] | None = None,
               merge_tags: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """Update columns of one version; a ``status`` change is recorded as an event.

        Promoting a version to ``production`` demotes the id's other production
        versions to ``saved`` in the same transaction.

        ``on_change(rows)`` is called inside the transaction, after the writes
        and before the commit, with every row this call changed as it now is
        (this version first, then any demoted one). Writers of one model id run
        it one after the other in commit order, so files mirroring the rows
        (the JSON sidecars) end up like the database; if it raises, nothing is
        committed.

        ``expect`` makes the update conditional: when any of its columns differs
        from the stored row, nothing is written and None is returned. ``event``
        (name, details) records one more history entry for this change.
        ``merge_tags`` is merged into the stored tags under the write lock (a
        value of None removes that tag), so concurrent writers lose no tag.
        """
        values = _clean(values)
        with self.atomic() as conn:
            self._lock(conn, model_id)
            current = self._get(conn, model_id, version)
            if expect and any(current[k] != v for k, v in expect.items()):
                return None
            if merge_tags is not None:
                values["tags"] = _merged_tags(current.get("tags"), merge_tags)
            new_status = values.get("status")
            demoted: list[dict[str, Any]] = []
            if new_status is not None and new_status != current["status"]:
                if new_status == "production":
                    demoted = self._demote_production(conn, model_id, version)
                self._event(conn, model_id, version, "status", current["status"], new_status)
            if event is not None:
                status = new_status or current["status"]
                self._event(conn, model_id, version, event[0], status, status, event[1])
            if values:
                conn.execute(
                    model_metadata.update()
                    .where(model_metadata.c.model_id == model_id, model_metadata.c.version == version)
                    .values(values)
                )
            current.update(values)
            if on_change is not None:
                on_change([dict(current), *demoted])
        return current

    def next_version(self, model_id: str) -> int:
        """The number the next version of ``model_id`` would get (deleted numbers are skipped)."""
        with self.atomic(write=False) as conn:
            return self._next_version(conn, model_id)

    def _demote_production(self, conn: sa.Connection, model_id: str, keep: int) -> list[dict[str, Any]]:
        others = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(model_metadata).where(
                    model_metadata.c.model_id == model_id,
                    model_metadata.c.status == "production",
                    model_metadata.c.version != keep,
                )
            )
        ]
        for other in others:
            demoted = "saved" if other["file_path"] else "trained"
            conn.execute(
                model_metadata.update()
                .where(model_metadata.c.model_id == model_id,
                       model_metadata.c.version == other["version"])
                .values(status=demoted)
            )
            self._event(conn, model_id, other["version"], "status", "production", demoted,
                        {"reason": f"version {keep} promoted"})
            other["status"] = demoted
        return others

    def delete(self, model_id: str, version: int | None = None) -> list[dict[str, Any]]:
        """Delete one version (or every version) and return the deleted rows."""
        with self.atomic() as conn:
            self._lock(conn, model_id)
            where = [model_metadata.c.model_id == model_id]
            if version is not None:
                where.append(model_metadata.c.version == version)
            rows = [dict(r._mapping) for r in conn.execute(sa.select(model_metadata).where(*where))]
            if not rows:
                raise ModelNotFoundError(self._missing_message(conn, model_id, version))
            conn.execute(model_metadata.delete().where(*where))
            for row in rows:
                # the file to remove is recorded: gc finishes a delete that was interrupted
                self._event(conn, model_id, row["version"], "deleted", row["status"], None,
                            {"file_path": row["file_path"], "file_sha256": row["file_sha256"]})
        return rows

    def import_version(self, row: Mapping[str, Any],
                       history: Iterable[Mapping[str, Any]] = ()) -> bool:
        """Insert a row that keeps its version number, with its recorded history.

        Used to copy a registry elsewhere (:func:`jupyter_modelservice.migrate.migrate_registry`):
        ``row`` must carry ``model_id`` and ``version``; ``history`` rows are
        events as returned by :meth:`events` and keep their actor and time.
        Returns False, writing nothing, when that version already exists.
        """
        values = _clean(row)
        model_id, version = values["model_id"], int(values["version"])
        with self.atomic() as conn:
            self._lock(conn, model_id)
            exists = conn.execute(
                sa.select(model_metadata.c.version).where(
                    model_metadata.c.model_id == model_id, model_metadata.c.version == version)
            ).first()
            if exists is not None:
                return False
            conn.execute(model_metadata.insert().values(values))
            records = [{k: e.get(k) for k in _EVENT_FIELDS} for e in history]
            if records:
                conn.execute(events.insert(), records)
        return True

    def import_events(self, model_id: str, history: Iterable[Mapping[str, Any]]) -> int:
        """Append recorded events of ``model_id`` that this registry does not hold yet.

        An event is already held when one with the same version, event,
        statuses, actor and time exists, so importing twice adds nothing.
        Returns the number of events added.
        """
        records = [{k: e.get(k) for k in _EVENT_FIELDS} for e in history]
        if any(r["model_id"] != model_id for r in records):
            raise InvalidInputError(f"import_events({model_id!r}) got events of other model ids.")
        with self.atomic() as conn:
            self._lock(conn, model_id)
            held = {
                _event_key(dict(r._mapping))
                for r in conn.execute(sa.select(events).where(events.c.model_id == model_id))
            }
            new = [r for r in records if _event_key(r) not in held]
            if new:
                conn.execute(events.insert(), new)
        return len(new)

    def _lock(self, conn: sa.Connection, model_id: str) -> None:
        """Serialize writers of one model id until the transaction ends (PostgreSQL).

        The key is the case-folded id, so ``"RF"`` and ``"rf"`` also wait for
        each other. SQLite needs nothing here: ``BEGIN IMMEDIATE`` already holds
        the database's single write lock.
        """
        if self.dialect == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(advisory_key(model_id.lower()))))

    def case_conflict(self, model_id: str) -> str | None:
        """Another registered id equal to ``model_id`` but for letter case, else None."""
        with self.atomic(write=False) as conn:
            return self._case_conflict(conn, model_id)

    def refuse_case_conflict(self, model_id: str) -> None:
        """`InvalidModelIdError` when another id differs from ``model_id`` only in letter case.

        Such ids would share one folder on Windows and macOS. `add_version`
        checks again under its write lock.
        """
        with self.atomic(write=False) as conn:
            self._refuse_case_conflict(conn, model_id)

    @staticmethod
    def _case_conflict(conn: sa.Connection, model_id: str) -> str | None:
        return conn.execute(
            sa.select(model_metadata.c.model_id)
            .where(sa.func.lower(model_metadata.c.model_id) == model_id.lower(),
                   model_metadata.c.model_id != model_id)
            .limit(1)
        ).scalar()

    def _refuse_case_conflict(self, conn: sa.Connection, model_id: str) -> None:
        other = self._case_conflict(conn, model_id)
        if other is not None:
            raise InvalidModelIdError(
                f"Invalid model_id {model_id!r}: the registry already has {other!r}, which differs "
                "only in letter case; both would share one folder on Windows and macOS. "
                f"Use {other!r} to add a version, or another name."
            )

    def _event(self, conn: sa.Connection, model_id: str, version: int, event: str,
               from_status: str | None, to_status: str | None,
               details: dict[str, Any] | None = None) -> None:
        conn.execute(
            events.insert().values(
                model_id=model_id, version=version, event=event, from_status=from_status,
                to_status=to_status, actor=actor(), at=utcnow(), details=details,
            )
        )

    # -- reads -------------------------------------------------------------
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

    def _next_version(self, conn: sa.Connection, model_id: str) -> int:
        """One past every version the id ever had: a deleted version's number is not reused,
        so its history never mixes with a new model's."""
        used = conn.execute(
            sa.select(sa.func.max(events.c.version)).where(events.c.model_id == model_id)
        ).scalar()
        return max(self._latest(conn, model_id) or 0, used or 0) + 1

    def _get(self, conn: sa.Connection, model_id: str, version: int | None) -> dict[str, Any]:
        query = sa.select(model_metadata).where(model_metadata.c.model_id == model_id)
        if version is None:
            query = query.order_by(model_metadata.c.version.desc()).limit(1)
        else:
            query = query.where(model_metadata.c.version == version)
        row = conn.execute(query).first()
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
    ) -> list[dict[str, Any]]:
        """Rows matching every given filter, as dicts, in ``order_by`` order.

        ``order_by`` is a column name, prefixed with ``-`` for descending.
        ``search`` matches id or class name, case-insensitively, as plain text.
        """
        query = sa.select(model_metadata).where(*self._filters(status, model_id, search))
        if latest_only:
            latest = (
                sa.select(model_metadata.c.model_id, sa.func.max(model_metadata.c.version).label("v"))
                .group_by(model_metadata.c.model_id)
                .subquery()
            )
            query = query.join(
                latest,
                sa.and_(latest.c.model_id == model_metadata.c.model_id,
                        latest.c.v == model_metadata.c.version),
            )
        descending = order_by.startswith("-")
        column = order_by.lstrip("-")
        if column not in _SORTABLE:
            raise InvalidInputError(
                f"Cannot order by {order_by!r}; use one of {sorted(_SORTABLE)}, "
                "with a leading '-' for descending."
            )
        key = model_metadata.c[column]
        query = query.order_by(
            key.desc() if descending else key.asc(),
            model_metadata.c.model_id.asc(),
            model_metadata.c.version.desc(),
        )
        if limit is not None:
            query = query.limit(int(limit))
        if offset:
            query = query.offset(int(offset))
        with self.atomic(write=False) as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def count(self, *, status: str | None = None, model_id: str | None = None,
              search: str | None = None) -> int:
        """How many versions match the filters of :meth:`list`."""
        query = sa.select(sa.func.count()).select_from(model_metadata).where(
            *self._filters(status, model_id, search)
        )
        with self.atomic(write=False) as conn:
            return int(conn.execute(query).scalar_one())

    @staticmethod
    def _filters(status: str | None, model_id: str | None, search: str | None) -> list[Any]:
        where: list[Any] = []
        if status is not None:
            _check_status(status)
            where.append(model_metadata.c.status == status)
        if model_id is not None:
            where.append(model_metadata.c.model_id == model_id)
        if search:
            pattern = "%" + escape_like(str(search)) + "%"
            where.append(
                sa.or_(
                    model_metadata.c.model_id.ilike(pattern, escape="\\"),
                    model_metadata.c.model_class.ilike(pattern, escape="\\"),
                )
            )
        return where

    def events(self, model_id: str | None = None, version: int | None = None, *,
               kinds: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """The status history, oldest first; ``kinds`` keeps only those event names."""
        query = sa.select(events).order_by(events.c.event_id)
        if kinds is not None:
            query = query.where(events.c.event.in_(list(kinds)))
        if model_id is not None:
            query = query.where(events.c.model_id == model_id)
        if version is not None:
            query = query.where(events.c.version == version)
        with self.atomic(write=False) as conn:
            return [dict(r._mapping) for r in conn.execute(query)]


def _merged_tags(stored: Any, changes: Mapping[str, Any]) -> dict[str, Any]:
    tags = dict(stored) if isinstance(stored, dict) else {}
    for key, value in changes.items():
        if value is None:
            tags.pop(str(key), None)
        else:
            tags[str(key)] = value
    return tags


def _event_key(event: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(event.get(k) for k in ("version", "event", "from_status", "to_status", "actor", "at"))


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(COLUMNS)
    if unknown:
        raise InvalidInputError(f"Unknown registry column(s) {sorted(unknown)}.")
    if values.get("status") is not None:
        _check_status(values["status"])
    return dict(values)


def _check_status(status: Any) -> None:
    if status not in STATUSES:
        raise InvalidInputError(f"Unknown status {status!r}; use one of {', '.join(STATUSES)}.")
