"""`Registry`: versions, metadata and status history in SQLite or PostgreSQL.

SQLAlchemy Core only; values always travel as bound parameters. Every write
runs in a transaction that holds the writer's lock: ``BEGIN IMMEDIATE`` on
SQLite (WAL, busy timeout), a transaction-scoped advisory lock per model id on
PostgreSQL, so concurrent writers never allocate the same version twice or
lose each other's changes.

Writers are small (`add_version`, `set_status`, `set_file`, `set_values`,
`merge_tags`, `record_event`, `delete`) and each opens ``with self.atomic():``
itself; a caller composes several into one transaction inside an outer
``with registry.atomic():`` (nested blocks are savepoints, see
`jupyter_modelservice.registry.transaction`). Transactions and reads are
inherited from `RegistryReads` (`reads`)::

    with registry.atomic():
        row = registry.lock_row("rf", 3, expect={"artifact_state": "pending"})
        if row is not None:                       # compare-and-set: still as read
            registry.set_file("rf", 3, {"artifact_state": "ready"})
            registry.set_status("rf", 3, "saved")
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from ..exceptions import InvalidInputError, InvalidModelIdError, ModelNotFoundError, RegistryError, SchemaVersionError
from .blobs import RegistryBlobs
from .engine import actor, advisory_key, make_engine, utcnow
from .evaluation_rows import RegistryEvaluations
from .queries import COLUMNS, FILE_COLUMNS, STATUSES, check_status, clean, event_key, merged_tags
from .reads import _ALLOCATION, RegistryReads, id_params, register_statement
from .schema import METADATA, MIGRATIONS, SCHEMA_VERSION, events, model_metadata, schema_info
from .transaction import Transactions

__all__ = ["COLUMNS", "FILE_COLUMNS", "STATUSES", "Registry", "utcnow"]

_SCHEMA_LOCK_KEY = 0x6D6F64656C737663  # "modelsvc": serializes schema creation on PostgreSQL
_EVENT_FIELDS = ("model_id", "version", "event", "from_status", "to_status", "actor", "at", "details")

_INSERT_EVENT = events.insert()
_FLOAT_COLUMNS = tuple(c.name for c in model_metadata.c if isinstance(c.type, sa.Float))


class Registry(RegistryReads, RegistryEvaluations, RegistryBlobs):
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
        self._transactions = Transactions(self.engine, self._failed)
        try:
            self._ensure_schema()
        except BaseException:
            self.engine.dispose()
            raise

    # -- transactions and locks ---------------------------------------------
    def lock(self, model_id: str) -> None:
        """Serialize writers of ``model_id`` until the current write transaction ends.

        On PostgreSQL a transaction-scoped advisory lock on the case-folded id
        (so ``"RF"`` and ``"rf"`` also wait for each other); SQLite needs
        nothing more, ``BEGIN IMMEDIATE`` already holds the database's single
        write lock. Every writer takes it itself; call it before reading a row
        you mean to change (or use `lock_row`). `RegistryError` outside a write
        transaction.
        """
        tx = self._transactions.require_write(f"lock({model_id!r})")
        key = model_id.lower()
        if self.dialect == "postgresql" and key not in tx.locked:
            tx.connection.execute(sa.select(sa.func.pg_advisory_xact_lock(advisory_key(key))))
        tx.locked.add(key)

    def lock_row(self, model_id: str, version: int, *,
                 expect: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """The row of ``model_id:version`` read under the id's write lock, for a read-modify-write.

        Call inside ``with registry.atomic():``. With ``expect`` it is a
        compare-and-set: None when any of those columns differs from the
        stored row (the caller then writes nothing). `ModelNotFoundError` when
        the version does not exist.
        """
        row = self._locked_row(model_id, version)
        if expect and any(row[k] != v for k, v in expect.items()):
            return None
        return row

    def _locked_row(self, model_id: str, version: int) -> dict[str, Any]:
        self.lock(model_id)
        return self.get(model_id, version)

    def _touch(self, model_id: str, version: int) -> None:
        tx = self._transactions.current()
        if tx is not None:
            tx.changed.append((model_id, version))

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

    # -- writes ------------------------------------------------------------
    def add_version(self, row: Mapping[str, Any]) -> int:
        """Insert ``row`` as the next version of ``row['model_id']``; return the version."""
        return int(self.register(row)["version"])

    def register(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Insert ``row`` as the next version of ``row['model_id']``; return the stored row.

        Under the id's lock, one ``INSERT ... SELECT ... RETURNING`` computes the
        version, checks the id's letter case and returns the row as stored; its
        ``registered`` event joins it on PostgreSQL (`reads.register_statement`).
        """
        values = clean(row)
        model_id = values["model_id"]
        values.setdefault("training_date", utcnow())
        values.setdefault("status", "trained")
        values.pop("version", None)
        with self.atomic() as conn:
            self.lock(model_id)
            statement, with_event = register_statement(tuple(values), self.dialect)
            params = {**values, **id_params(model_id), **({"actor": actor(), "at": utcnow()} if with_event else {})}
            inserted = conn.execute(statement, params).one_or_none()
            if inserted is None:  # the insert's condition: no other id differs from this one in letter case only
                self._refuse_case_conflict(conn, model_id)
                raise RegistryError(f"Registering a version of {model_id!r} inserted nothing.")
            stored = dict(inserted._mapping)
            self._touch(model_id, stored["version"])
            if not with_event:
                self._event(conn, model_id, stored["version"], "registered", None, values["status"])
        for name in _FLOAT_COLUMNS:  # SQLite's RETURNING gives a REAL 1.0 back as the integer 1
            if type(stored[name]) is int:
                stored[name] = float(stored[name])
        return stored

    def allocate_version(self, model_id: str, prefer: int | None = None) -> int:
        """A version number for a new row of ``model_id``, free until the current transaction ends.

        ``prefer`` when that number was never used by the id (no row, no
        history: a deleted version's number is not reused), else the next
        version (`next_version`). Takes the id's write lock and refuses an id
        that differs from a registered one only in letter case; call it inside
        ``with registry.atomic():`` and insert the row before the block ends.
        """
        self.lock(model_id)
        conn = self._connection()
        if prefer is not None:
            self._refuse_case_conflict(conn, model_id)
            if not self._used(conn, model_id, prefer):
                return prefer
            return self._next_version(conn, model_id)
        other, latest, used = conn.execute(_ALLOCATION, id_params(model_id)).one()  # the check, the numbers
        self._raise_case_conflict(model_id, other)
        return max(latest or 0, used or 0) + 1

    def set_status(self, model_id: str, version: int, status: str,
                   details: Mapping[str, Any] | None = None) -> None:
        """Change the status of a version, recorded as a ``status`` event (with ``details``).

        Promoting a version to ``production`` demotes the id's other
        production versions (to ``saved``, or ``trained`` without a file) in
        the same transaction. Setting the status a version already has records nothing.
        """
        check_status(status)
        with self.atomic() as conn:
            current = self._locked_row(model_id, version)
            if current["status"] == status:
                return
            if status == "production":
                self._demote_production(conn, model_id, version)
            self._write(conn, model_id, version, {"status": status})
            self._event(conn, model_id, version, "status", current["status"], status,
                        dict(details) if details else None)

    def set_file(self, model_id: str, version: int, values: Mapping[str, Any]) -> None:
        """Change the file columns of a version (`FILE_COLUMNS`, the ones given)."""
        unknown = set(values) - set(FILE_COLUMNS)
        if unknown:
            raise InvalidInputError(f"set_file changes only {', '.join(FILE_COLUMNS)}, not {sorted(unknown)}.")
        self.set_values(model_id, version, values)

    def set_values(self, model_id: str, version: int, values: Mapping[str, Any]) -> None:
        """Change columns of a version other than its identity and status (see `set_status`)."""
        values = clean(values)
        refused = sorted({"model_id", "version", "status"} & set(values))
        if refused:
            raise InvalidInputError(
                f"set_values cannot change {refused}: a version keeps its id and number, and a "
                "status change goes through set_status (it is recorded and may demote another version)."
            )
        with self.atomic() as conn:
            self.lock(model_id)
            self._write(conn, model_id, version, values, must_exist=True)

    def merge_tags(self, model_id: str, version: int, changes: Mapping[str, Any]) -> None:
        """Merge ``changes`` into the stored tags (a value of None removes that tag).

        Read and written under the id's write lock, so concurrent writers lose no tag.
        """
        with self.atomic() as conn:
            current = self._locked_row(model_id, version)
            self._write(conn, model_id, version, {"tags": merged_tags(current.get("tags"), changes)})

    def record_event(self, model_id: str, version: int, event: str,
                     details: Mapping[str, Any] | None = None) -> None:
        """Append a history entry for a version (its status as from and to, who, when, ``details``)."""
        with self.atomic() as conn:
            status = self._locked_row(model_id, version)["status"]
            self._event(conn, model_id, version, event, status, status, dict(details) if details else None)

    def update(self, model_id: str, version: int, values: Mapping[str, Any]) -> dict[str, Any]:
        """Change several columns of a version in one transaction; return the row as it now is.

        A ``status`` goes through `set_status` (recorded, may demote), the
        rest through `set_values`.
        """
        values = clean(values)
        with self.atomic():
            rest = {k: v for k, v in values.items() if k != "status"}
            if "status" in values:
                self.set_status(model_id, version, values["status"])
            if rest:
                self.set_values(model_id, version, rest)
            return self.get(model_id, version)

    def _write(self, conn: sa.Connection, model_id: str, version: int, values: Mapping[str, Any],
               must_exist: bool = False) -> None:
        if not values:
            if must_exist:
                self._get(conn, model_id, version)
            return
        if "file_sha256" in values:  # a new file without its faster digests: loads check the sha256
            values = {"file_blake3": None, "file_chunks": None, **values}
        result = conn.execute(
            model_metadata.update()
            .where(model_metadata.c.model_id == model_id, model_metadata.c.version == version)
            .values(dict(values))
        )
        if must_exist and result.rowcount == 0:
            raise ModelNotFoundError(self._missing_message(conn, model_id, version))
        self._touch(model_id, version)

    def _demote_production(self, conn: sa.Connection, model_id: str, keep: int) -> None:
        others = conn.execute(
            sa.select(model_metadata.c.version, model_metadata.c.file_path).where(
                model_metadata.c.model_id == model_id,
                model_metadata.c.status == "production",
                model_metadata.c.version != keep,
            )
        ).all()
        for other in others:
            demoted = "saved" if other.file_path else "trained"
            self._write(conn, model_id, other.version, {"status": demoted})
            self._event(conn, model_id, other.version, "status", "production", demoted,
                        {"reason": f"version {keep} promoted"})

    def delete(self, model_id: str, version: int | None = None) -> list[dict[str, Any]]:
        """Delete one version (or every version) and return the deleted rows."""
        with self.atomic() as conn:
            self.lock(model_id)
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
        values = clean(row)
        model_id, version = values["model_id"], int(values["version"])
        with self.atomic() as conn:
            self.lock(model_id)
            exists = conn.execute(
                sa.select(model_metadata.c.version).where(
                    model_metadata.c.model_id == model_id, model_metadata.c.version == version)
            ).first()
            if exists is not None:
                return False
            conn.execute(model_metadata.insert().values(values))
            self._touch(model_id, version)
            records = [{k: e.get(k) for k in _EVENT_FIELDS} for e in history]
            if records:
                conn.execute(_INSERT_EVENT, records)
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
            self.lock(model_id)
            held = {
                event_key(dict(r._mapping))
                for r in conn.execute(sa.select(events).where(events.c.model_id == model_id))
            }
            new = [r for r in records if event_key(r) not in held]
            if new:
                conn.execute(_INSERT_EVENT, new)
        return len(new)

    def refuse_case_conflict(self, model_id: str) -> None:
        """`InvalidModelIdError` when another id differs from ``model_id`` only in letter case.

        Such ids would share one folder on Windows and macOS. `add_version`
        checks again under its write lock.
        """
        with self.atomic(write=False) as conn:
            self._refuse_case_conflict(conn, model_id)

    def _refuse_case_conflict(self, conn: sa.Connection, model_id: str) -> None:
        self._raise_case_conflict(model_id, self._case_conflict(conn, model_id))

    @staticmethod
    def _raise_case_conflict(model_id: str, other: str | None) -> None:
        if other is not None:
            raise InvalidModelIdError(
                f"Invalid model_id {model_id!r}: the registry already has {other!r}, which differs "
                "only in letter case; both would share one folder on Windows and macOS. "
                f"Use {other!r} to add a version, or another name."
            )

    def _event(self, conn: sa.Connection, model_id: str, version: int, event: str,
               from_status: str | None, to_status: str | None,
               details: dict[str, Any] | None = None) -> None:
        conn.execute(_INSERT_EVENT, {
            "model_id": model_id, "version": version, "event": event, "from_status": from_status,
            "to_status": to_status, "actor": actor(), "at": utcnow(), "details": details,
        })
